// The live charts' series, layout, fault marks and time window on literal points and episodes.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  CHARTS, chartWindow, faultMarks, layout, MIN_SPAN_S, REPLICA_COLORS, traceData, WINDOW_S,
} from "../../../src/faultlab/lab/dashboard/static/charts.js";

import {useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

const NOW = 1_800_000_000;
const UTC = 0;  // zone offset for the tests: plot time is UNIX milliseconds

test("each chart's traces take their series from the points, a missing value leaving a gap", () => {
  const points = [{t: NOW - 2, voted: {p50: 1, p95: 2, p99: 3, rps: 50}, orders: {p50: 4, rps: 5}, down: 0},
    {t: NOW - 1, voted: null, orders: {p50: 6, rps: 7}, down: 1}];
  const voted = traceData(CHARTS["chart-voted-latency"], points, UTC);
  assert.deepEqual(voted.map((tr) => tr.name), ["p50", "p95", "p99"]);
  assert.deepEqual(voted[0].x, [(NOW - 2) * 1000, (NOW - 1) * 1000]);
  assert.deepEqual(voted[0].y, [1, null]);
  const orders = traceData(CHARTS["chart-orders-latency"], points, UTC);
  assert.deepEqual(orders[1].y, [null, null]);  // no p95 in these points
  const failures = traceData(CHARTS["chart-failures"], points, UTC);
  assert.equal(failures[2].yaxis, "y2");
  assert.deepEqual(failures[2].y, [0, 1]);
  assert.ok(voted.every((tr) => tr.type === "scatter" && tr.mode === "lines" && tr.connectgaps === false));
});

test("only the failures chart has a second axis, and success rate is fixed to 0-105 %", () => {
  const failures = layout(CHARTS["chart-failures"]);
  assert.equal(failures.yaxis2.title.text, "replicas not ON");
  assert.equal(failures.margin.r, 50);
  const success = layout(CHARTS["chart-success"]);
  assert.deepEqual(success.yaxis.range, [0, 105]);
  assert.equal(success.yaxis2, undefined);
  assert.equal(layout(CHARTS["chart-throughput"]).yaxis.range, undefined);
});

test("a recovered episode is shaded from activation to recovery, labelled, with detection and recovery lines", () => {
  const e = {replica: 2, fault_kind: "crash", activated_at: NOW - 50, detected_at: NOW - 49.9, recovered_at: NOW - 40};
  const {shapes, annotations} = faultMarks([e], [], NOW, NOW - 300, UTC);
  assert.deepEqual(shapes.map((s) => s.type), ["rect", "line", "line"]);
  assert.equal(shapes[0].x0, (NOW - 50) * 1000);
  assert.equal(shapes[0].x1, (NOW - 40) * 1000);
  assert.equal(shapes[0].fillcolor, REPLICA_COLORS[1]);
  assert.equal(shapes[1].line.color, "#d62f2f");
  assert.equal(shapes[2].line.color, "#1a9e4b");
  assert.equal(annotations.length, 1);
  assert.equal(annotations[0].text, "R2 crash");
  assert.equal(annotations[0].xanchor, "left");
});

test("an open episode is shaded up to now; one closed without recovery keeps only its detection line", () => {
  const open = {replica: 1, fault_kind: "latency", activated_at: NOW - 5, detected_at: NOW - 4.8};
  const superseded = {replica: 3, fault_kind: "stale", activated_at: NOW - 30, detected_at: NOW - 29, cleared_at: NOW - 20};
  const instances = [{replica: 1, open_episode_start: NOW - 5}, {replica: 3, open_episode_start: NOW - 10}];
  const {shapes, annotations} = faultMarks([open, superseded], instances, NOW, NOW - 300, UTC);
  assert.deepEqual(shapes.map((s) => s.type), ["rect", "line", "line"]);
  assert.equal(shapes[0].x1, NOW * 1000);
  assert.deepEqual(annotations.map((a) => a.text), ["R1 latency"]);
  assert.equal(annotations[0].xanchor, "right");  // starts near the right edge: the label goes to its left
});

test("episodes that ended before the window are left out, and labels are stacked four deep", () => {
  const old = {replica: 1, fault_kind: "crash", activated_at: NOW - 400, recovered_at: NOW - 390};
  const recent = [1, 2, 3, 1, 2].map((replica, i) => ({replica, fault_kind: "hang", activated_at: NOW - 200 + i * 10,
    recovered_at: NOW - 195 + i * 10}));
  const {shapes, annotations} = faultMarks([old, ...recent], [], NOW, NOW - 300, UTC);
  assert.equal(shapes.filter((s) => s.type === "rect").length, 5);
  assert.deepEqual(annotations.map((a) => Number(a.y.toFixed(2))), [1, 0.91, 0.82, 0.73, 1]);
});

test("the window keeps the last five minutes, shrinks to a short history, but never under a minute", () => {
  const points = [NOW - 400, NOW - 200, NOW - 10].map((t) => ({t}));
  const full = chartWindow(points, NOW);
  assert.deepEqual(full.points.map((p) => p.t), [NOW - 200, NOW - 10]);
  assert.equal(full.from, NOW - 200);
  assert.equal(chartWindow([{t: NOW - 10}], NOW).from, NOW - MIN_SPAN_S);
  assert.equal(chartWindow([], NOW).from, NOW - MIN_SPAN_S);
  assert.equal(chartWindow([{t: NOW - WINDOW_S}, {t: NOW}], NOW).from, NOW - WINDOW_S);
});
