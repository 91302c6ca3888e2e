// report.html's charts from literal report data: fault periods, the load chart and the TTD/TTR chart.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  faultPeriods, NO_COLOUR, plotDate, timeseriesFigure, ttdTtrFigure,
} from "../../../src/faultlab/lab/static/report.js";

const T0 = 1_800_000_000;  // 2027-01-15 08:00:00 UTC

function result(phase, repetition, injectedAt, episodes = [], extra = {}) {
  return {phase, repetition, injected_at: injectedAt, fault_ended_at: injectedAt === null ? null : injectedAt + 5,
    ended_at: T0 + 100, episodes, fault: injectedAt === null ? null : {kind: phase}, ...extra};
}

function dist(values) {
  const present = values.filter((v) => v !== null);
  const sorted = [...present].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = !sorted.length ? null : sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {values, n: present.length, median, min: present.length ? sorted[0] : null,
    max: present.length ? sorted[sorted.length - 1] : null};
}

test("plotDate gives UTC to the millisecond, rounding to the microsecond first, and null for none", () => {
  assert.equal(plotDate(T0 + 0.5), "2027-01-15 08:00:00.500");
  assert.equal(plotDate(T0 + 1.2345), "2027-01-15 08:00:01.234");
  assert.equal(plotDate(1_764_494_281.1229999), "2025-11-30 09:18:01.123");  // 122999.9 µs is 123000 µs
  assert.equal(plotDate(null), null);
  assert.equal(plotDate(undefined), null);
});

test("a fault period runs from injection to the fault's end, with the episode's detection and recovery", () => {
  const episode = {detected_at: T0 + 2.4, recovered_at: T0 + 7.2};
  const periods = faultPeriods([result("baseline", 1, null), result("latency", 1, T0 + 2, [episode, {detected_at: null}])]);
  assert.deepEqual(periods, [{phase: "latency", repetition: 1, kind: "latency", start: T0 + 2, end: T0 + 7,
    detected: [T0 + 2.4], recovered: [T0 + 7.2]}]);
  const unended = faultPeriods([result("crash", 2, T0, [], {fault_ended_at: null})]);
  assert.equal(unended[0].end, T0 + 100);  // the phase's end when the fault's end was not recorded
  assert.deepEqual(faultPeriods(undefined), []);
});

test("the load chart has latency, throughput and success traces per second, by intended send time", () => {
  const timeseries = [{t: T0, requests: 50, ok: 49, success_rate: 98, p50_ms: 4, p95_ms: 9, p99_ms: 12, reads: 40,
    reads_ok: 39}, {t: T0 + 1, requests: 50, ok: 50, success_rate: 100, p50_ms: 3, p95_ms: 8, p99_ms: 11, reads: 0,
    reads_ok: 0}];
  const fig = timeseriesFigure({timeseries, results: []});
  assert.deepEqual(fig.data.map((tr) => tr.name), ["latency p50 (ms)", "latency p95 (ms)", "latency p99 (ms)",
    "requests/s (intended)", "successful/s", "success rate (%)", "voted reads success (%)",
    "detected (monitor event)", "recovered (monitor event)"]);
  assert.deepEqual(fig.data[0].x, ["2027-01-15 08:00:00.500", "2027-01-15 08:00:01.500"]);
  assert.deepEqual(fig.data[1].y, [9, 8]);
  assert.deepEqual(fig.data.map((tr) => tr.yaxis), ["y", "y", "y", "y2", "y2", "y3", "y3", "y3", "y3"]);
  assert.deepEqual(fig.data[6].y, [97.5, null]);  // no voted reads in that second: a gap, not 0 %
  assert.deepEqual(fig.data[7].x, []);
  assert.equal(fig.layout.xaxis.anchor, "y3");
  assert.deepEqual(fig.layout.yaxis3.range, [0, 105]);
});

test("each faulted phase run is shaded in its fault kind's colour and labelled, its moments drawn and listed", () => {
  const results = [result("baseline", 1, null),
    result("crash", 1, T0 + 10, [{detected_at: T0 + 10.01, recovered_at: T0 + 11}]),
    result("wrong-values", 2, T0 + 20, [{detected_at: T0 + 20.2, recovered_at: null}], {fault: {kind: "incorrect"}})];
  const colours = {crash: "#d62728", incorrect: "#8c564b"};  // the registry's, as the page passes them
  const fig = timeseriesFigure({timeseries: [], results, colours});
  const rects = fig.layout.shapes.filter((s) => s.type === "rect");
  assert.deepEqual(rects.map((s) => s.fillcolor), ["#d62728", "#8c564b"]);
  assert.deepEqual(fig.layout.annotations.map((a) => a.text), ["crash #1", "wrong-values #2"]);
  const lines = fig.layout.shapes.filter((s) => s.type === "line");
  assert.deepEqual(lines.map((s) => [s.x0, s.line.dash]), [["2027-01-15 08:00:10.010", "dash"],
    ["2027-01-15 08:00:11.000", "dot"], ["2027-01-15 08:00:20.200", "dash"]]);
  const detected = fig.data.find((tr) => tr.name === "detected (monitor event)");
  assert.deepEqual(detected.text, ["crash #1 detected", "wrong-values #2 detected"]);
  assert.deepEqual(detected.y, [100, 100]);
  const recovered = fig.data.find((tr) => tr.name === "recovered (monitor event)");
  assert.deepEqual(recovered.text, ["crash #1 recovered"]);
});

test("a fault that ended as it began is still shaded 50 ms wide, and a kind without a colour is grey", () => {
  const fig = timeseriesFigure({results: [result("meteor", 1, T0, [], {fault_ended_at: T0})]});
  const rect = fig.layout.shapes[0];
  assert.deepEqual([rect.x0, rect.x1, rect.fillcolor], ["2027-01-15 08:00:00.000", "2027-01-15 08:00:00.050",
    NO_COLOUR]);
});

test("the TTD/TTR chart has median bars with min-max error bars and a dot per repetition, phases without either left out", () => {
  const phases = {
    baseline: {ttd_ms: dist([null, null]), ttr_ms: dist([null, null])},
    crash: {ttd_ms: dist([10, 12, 11]), ttr_ms: dist([100, null, 140])},
    latency: {ttd_ms: dist([400]), ttr_ms: dist([null])},
  };
  const fig = ttdTtrFigure({phases, thresholds: {max_ttd_ms: 2000, max_ttr_ms: 1000}});
  const [ttdBars, ttdDots, ttrBars, ttrDots] = fig.data;
  assert.deepEqual(ttdBars.x, ["crash", "latency"]);
  assert.deepEqual(ttdBars.y, [11, 400]);
  assert.deepEqual(ttdBars.error_y.array, [1, 0]);
  assert.deepEqual(ttdBars.error_y.arrayminus, [1, 0]);
  assert.deepEqual(ttdDots.x, [-0.2, -0.2, -0.2, 0.8]);
  assert.deepEqual(ttdDots.y, [10, 12, 11, 400]);
  assert.deepEqual(ttrBars.y, [120, null]);
  assert.deepEqual(ttrBars.error_y.array, [20, 0]);
  assert.deepEqual(ttrBars.error_y.arrayminus, [20, 0]);
  assert.deepEqual(ttrDots.x, [0.2, 0.2]);
  assert.deepEqual([ttdBars.name, ttrBars.name, ttdDots.name], ["TTD median (ms)", "TTR median (ms)",
    "TTD each repetition"]);
  const limits = fig.data.slice(4);  // the thresholds: dashed lines with a legend entry each
  assert.deepEqual(limits.map((t) => [t.name, t.line.dash, t.y[0]]),
    [["TTD limit (2000 ms)", "dash", 2000], ["TTR limit (1000 ms)", "dash", 1000]]);
  assert.deepEqual(fig.layout.xaxis2.range, [-0.5, 1.5]);
  assert.deepEqual(ttdTtrFigure({phases, thresholds: {}}).data.length, 4);
});

test("a phase that restarts a process or is judged on quorum has the restart limit drawn and its rule written", () => {
  const th = {max_ttd_ms: 2000, max_ttr_ms: 1000, max_restart_ttr_ms: 5000};
  const phases = {
    latency: {ttd_ms: dist([400]), ttr_ms: dist([150]), rule: "thresholds", thresholds: th},
    crash: {ttd_ms: dist([12]), ttr_ms: dist([300]), rule: "restart", thresholds: th},
    "two-down": {ttd_ms: dist([15]), ttr_ms: dist([1800]), rule: "quorum", thresholds: th},
  };
  const fig = ttdTtrFigure({phases, thresholds: th});
  const limits = Object.fromEntries(fig.data.slice(4).map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(limits), ["TTD limit (2000 ms)", "TTR limit (1000 ms)",
    "TTR limit when a process restarts (5000 ms)"]);
  const restart = limits["TTR limit when a process restarts (5000 ms)"];
  assert.deepEqual(restart.x, [0.55, 1.45, null, 1.55, 2.45, null]);  // over crash's and two-down's bars only
  assert.deepEqual(restart.y, [5000, 5000, null, 5000, 5000, null]);
  assert.deepEqual(limits["TTR limit (1000 ms)"].x, [-0.45, 0.45, null]);
  assert.ok(fig.data.filter((t) => t.line && t.line.dash).every((t) => t.showlegend !== false && t.name));
  assert.deepEqual(fig.layout.annotations.map((a) => [a.x, a.text]), [[2, "judged on quorum lost and regained"]]);
});
