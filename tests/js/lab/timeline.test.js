// The episode timeline on a literal episode (tests/data/timeline/latency.json, what lab/timeline.py builds from the
// literal history of tests/unit/test_timeline.py): its steps in time order, each step's text in both languages, the
// keyboard model, and the SVG drawn (spans, thresholds, crossings, lanes not recorded).
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {test} from "node:test";

import {messages} from "../catalog.js";
import {stepNear} from "../../../src/faultlab/lab/static/timeline.js";
import {
  episodeSteps, formatMs, formatNumber, moveStep, relativeTime, say, stepText,
} from "../../../src/faultlab/lab/static/timeline_steps.js";
import {stepPoint, tickLabel, timelineSvg} from "../../../src/faultlab/lab/static/timeline_svg.js";

const EPISODE = JSON.parse(readFileSync(new URL("../../data/timeline/latency.json", import.meta.url), "utf8"));
const STATIC = new URL("../../../src/faultlab/lab/static/", import.meta.url);
const SOURCES = ["timeline.js", "timeline_steps.js", "timeline_svg.js"];
const T0 = EPISODE.fault.activated_at;
const copy = (doc) => JSON.parse(JSON.stringify(doc));

function words(lang) {
  return Object.fromEntries(Object.entries(messages(lang)).filter(([k]) => k.startsWith("timeline.")));
}

function texts(doc, lang) {
  return episodeSteps(doc).map((s) => stepText(s, doc, words(lang), lang));
}

test("numbers and times are said with the reader's separators", () => {
  assert.equal(formatNumber(1234.5, 1, "es"), "1.234,5");
  assert.equal(formatNumber(1234.5, 1, "en"), "1,234.5");
  assert.equal(formatMs(1234.5, "es"), "1.234,5 ms");
  assert.equal(formatMs(null, "es"), "—");
  assert.equal(relativeTime(T0 + 0.16, T0, "es"), "+160,0 ms");
  assert.equal(relativeTime(T0 - 0.02, T0, "en"), "−20.0 ms");
  assert.equal(relativeTime(T0 + 2.1, T0, "es"), "+2,100 s");
  assert.equal(say({"k": "{a} and {b}"}, "k", {a: 1}), "1 and {b}");
  assert.equal(say({}, "timeline.nothing"), "timeline.nothing");
});

test("an episode's steps are its events in time order, ties in lane order", () => {
  const steps = episodeSteps(EPISODE);
  const lanes = EPISODE.lanes;
  const expected = lanes.fault.events.length + lanes.checks.items.length + lanes.monitor.transitions.length
    + lanes.voter.buckets.length + lanes.recovery.events.length + 2
    + lanes.detectors.items.reduce((n, d) => n + d.series.filter((s) => s.crossed_at !== null).length, 0);
  assert.equal(steps.length, expected);
  for (let i = 1; i < steps.length; i += 1) assert.ok(steps[i - 1].at <= steps[i].at, `step ${i} goes back in time`);
  const atDetection = steps.filter((s) => s.at === EPISODE.ttd.end.at).map((s) => `${s.lane}:${s.kind}`);
  assert.deepEqual(atDetection, ["checks:timeout", "detectors:off", "detectors:off", "monitor:OFF", "spans:ttd"]);
  assert.deepEqual(steps.filter((s) => s.lane === "fault").map((s) => s.kind), ["injected", "active", "cleared"]);
});

test("each step says what happened, in English", () => {
  const said = texts(EPISODE, "en");
  for (const line of [
    "−20.0 ms: the lab injects the fault latency",
    "+0.0 ms: the fault latency is active on replica 2",
    "+120.0 ms: health check slow: answered in 110.0 ms, over 75.0 ms",
    "+150.0 ms: health check: no answer within 150.0 ms",
    "+280.0 ms: voter, during these 50.0 ms: reads that excluded it as slow: 3",
    "+320.0 ms: error-rate would turn OFF here (TTD 320.0 ms): consecutive failures 3 reached its threshold 3",
    "+320.0 ms: the monitor marks replica 2 OFF: timeout (error-rate detector)",
    "+320.0 ms: TTD 320.0 ms: from the fault becoming active to its detection",
    "+490.0 ms: success-rate would turn OFF here (TTD 490.0 ms): success % in the window 64.3 fell below its threshold 70.0",
    "+660.0 ms: phi-accrual would turn OFF here (TTD 660.0 ms): phi 28.04 reached its threshold 8.00",
    "+2.000 s: the fault is cleared",
    "+2.100 s: the monitor marks replica 2 ON: healthy and caught up",
    "+2.100 s: TTR 100.0 ms: from the fault's end to recovery",
    "+2.180 s: voter, during these 50.0 ms: reads answered with this replica: 5",
  ]) assert.ok(said.includes(line), `missing: ${line}\n${said.join("\n")}`);
});

test("each step says what happened, in Spanish, with Spanish numbers", () => {
  const said = texts(EPISODE, "es");
  for (const line of [
    "−20,0 ms: el laboratorio inyecta el fallo latency",
    "+150,0 ms: health check: sin respuesta en 150,0 ms",
    "+280,0 ms: votador, durante estos 50,0 ms: lecturas que la excluyeron por lenta: 3",
    "+320,0 ms: error-rate pasaría a OFF aquí (TTD 320,0 ms): fallos consecutivos 3 alcanzó su umbral 3",
    "+320,0 ms: el monitor marca la réplica 2 OFF: timeout (detector error-rate)",
    "+320,0 ms: TTD 320,0 ms: desde que el fallo se activa hasta su detección",
    "+2,020 s: un health check la encuentra al día con el log",
    "+2,100 s: TTR 100,0 ms: desde el fin del fallo hasta la recuperación",
  ]) assert.ok(said.includes(line), `missing: ${line}\n${said.join("\n")}`);
  assert.ok(said.every((line) => !/\{\w+\}|timeline\./.test(line)), said.join("\n"));
});

test("reasons without a code, stale replicas and episodes that never ended are said too", () => {
  const doc = copy(EPISODE);
  doc.lanes.monitor.transitions = [
    {at: T0 + 0.1, status: "OFF", previous: "ON", code: "recorded", params: {}, reason: "the system's monitor, polled"},
    {at: T0 + 0.2, status: "OFF", previous: "ON", code: "stale", params: {seq: 42, behind_ms: 1234.5}},
  ];
  doc.ttr = {start: {event: "fault_cleared", at: T0 + 2}, end: null, ms: null};
  const es = texts(doc, "es");
  assert.ok(es.includes("+100,0 ms: el monitor marca la réplica 2 OFF: «the system's monitor, polled» (tal como se registró)"));
  assert.ok(es.includes("+200,0 ms: el monitor marca la réplica 2 OFF: desactualizada: le falta el evento 42, que las otras aplicaron 1.234,5 ms antes"));
  assert.ok(es.includes("+2,000 s: TTR: no recuperada"));
});

test("the keyboard model: arrows step one event, Home and End jump, other keys are not taken", () => {
  assert.equal(moveStep(-1, "ArrowRight", 5), 0);
  assert.equal(moveStep(-1, "ArrowLeft", 5), 4);
  assert.equal(moveStep(2, "ArrowRight", 5), 3);
  assert.equal(moveStep(2, "ArrowLeft", 5), 1);
  assert.equal(moveStep(4, "ArrowRight", 5), 4);
  assert.equal(moveStep(0, "ArrowLeft", 5), 0);
  assert.equal(moveStep(2, "Home", 5), 0);
  assert.equal(moveStep(2, "End", 5), 4);
  assert.equal(moveStep(2, "Tab", 5), null);
  assert.equal(moveStep(2, "a", 5), null);
  assert.equal(moveStep(-1, "ArrowRight", 0), -1);
  const steps = episodeSteps(EPISODE);
  const visited = [];
  for (let i = moveStep(-1, "Home", steps.length); visited.length < steps.length; i = moveStep(i, "ArrowRight", steps.length)) {
    visited.push(steps[i].at);
  }
  assert.deepEqual(visited, [...visited].sort((a, b) => a - b));
  assert.equal(moveStep(steps.length - 1, "ArrowRight", steps.length), steps.length - 1);
});

test("the drawing has the spans with their numbers, each threshold dashed, its crossing and the OFF moments", () => {
  const {svg, rows} = timelineSvg(EPISODE, {words: words("es"), lang: "es", colours: {latency: "#ff7f0e"}});
  assert.match(svg, /<g class="tl-span tl-ttd"[^>]*>.*?>TTD 320,0 ms<\/text><\/g>/);
  assert.match(svg, /<g class="tl-span tl-ttr"[^>]*>.*?>TTR 100,0 ms<\/text><\/g>/);
  const thresholds = [...svg.matchAll(/class="tl-threshold" data-threshold="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual(thresholds, [3, 2, 3, 8, 70]);  // error-rate (consecutive, window), consecutive, phi, success %
  assert.match(svg, /class="tl-threshold-label"[^>]*>≥ 3</);
  assert.match(svg, /class="tl-threshold-label"[^>]*>&lt; 70,0</);
  assert.equal([...svg.matchAll(/class="tl-cross"/g)].length, 4);  // the window count never reached its 2
  assert.equal([...svg.matchAll(/class="tl-off" data-at="/g)].length, 4);
  assert.match(svg, /<rect class="tl-fault-period"[^>]*fill="#ff7f0e"/);
  const counts = Object.fromEntries([...svg.matchAll(/class="tl-check tl-check-(\w+)" data-count="(\d+)"/g)]
    .map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(counts, {ok: 10, slow: 1, timeout: 4});
  assert.match(svg, /class="tl-status tl-status-OFF"/);
  assert.doesNotMatch(svg, /tl-not-recorded/);
  assert.deepEqual(rows.map((r) => r.key), ["ttd", "ttr", "fault", "checks", "detector-0-0", "detector-0-1",
    "detector-1-0", "detector-2-0", "detector-3-0", "monitor", "voter", "recovery"]);
  assert.equal(rows.find((r) => r.key === "detector-0-0").label, "★ error-rate");
  assert.equal(rows.find((r) => r.key === "detector-0-1").sub, "fallos en la ventana");
});

test("a detector's line holds each value until the next, and leaves a gap while its rate is not judged", () => {
  const doc = copy(EPISODE);
  const start = doc.window.start, end = doc.window.end;
  doc.lanes.detectors.items = [{name: "success-rate", params: {}, decides: true, off_at: null, ttd_ms: null,
    series: [{measure: "success_pct", threshold: 50, above: false, crossed_at: null,
      points: [[start, 100], [start + 1, 40], [start + 2, null], [start + 3, 100]]}]}];
  const drawing = timelineSvg(doc, {words: words("en"), lang: "en"});
  const path = drawing.svg.match(/class="tl-series" d="([^"]+)"/)[1];
  const [x0, x1, x2, x3, xe] = [start, start + 1, start + 2, start + 3, end].map((t) => Math.round(drawing.x(t) * 10) / 10);
  const row = drawing.rows.find((r) => r.key === "detector-0-0");
  const y = (v) => Math.round((row.y + row.h - 3 - (v / 100) * (row.h - 6)) * 10) / 10;
  assert.equal(path, `M${x0} ${y(100)}H${x1}V${y(40)}H${x2}M${x3} ${y(100)}H${xe}`);
});

test("lanes that were not recorded are drawn as such, in the reader's language", () => {
  const doc = copy(EPISODE);
  doc.lanes = {fault: doc.lanes.fault, checks: {recorded: false}, monitor: {recorded: false},
    recovery: doc.lanes.recovery};  // detectors and voter left out: not recorded either
  for (const [lang, said] of [["es", "no registrado"], ["en", "not recorded"]]) {
    const {svg, rows} = timelineSvg(doc, {words: words(lang), lang});
    assert.equal([...svg.matchAll(/<rect class="tl-not-recorded"/g)].length, 4);
    assert.equal([...svg.matchAll(new RegExp(`class="tl-not-recorded-label"[^>]*>${said}<`, "g"))].length, 4);
    assert.deepEqual(rows.filter((r) => !r.recorded).map((r) => r.key), ["checks", "detectors", "monitor", "voter"]);
  }
  assert.ok(episodeSteps(doc).every((s) => ["fault", "recovery", "spans"].includes(s.lane)));
  assert.match(timelineSvg(doc, {words: words("en"), lang: "en"}).svg, /fill="#999999"/);  // no colour given: grey
});

test("the pointer finds the event under it, in its own row, and nothing far from any", () => {
  const drawing = timelineSvg(EPISODE, {words: words("en"), lang: "en"});
  const steps = episodeSteps(EPISODE);
  const byRow = {};
  steps.forEach((s, i) => (byRow[s.row] ||= []).push([drawing.x(s.at), i]));
  for (const list of Object.values(byRow)) list.sort((a, b) => a[0] - b[0]);
  const off = steps.findIndex((s) => s.lane === "monitor" && s.kind === "OFF");
  const {x, y} = stepPoint(steps[off], drawing.rows, drawing.x);
  assert.equal(stepNear(x + 3, y, drawing.rows, byRow), off);
  assert.equal(stepNear(x + 30, y, drawing.rows, byRow), -1);
  assert.equal(stepNear(x, 2, drawing.rows, byRow), -1);  // above every row
});

test("every word the timeline says is in both catalogs, and every timeline word of the catalogs is said", () => {
  const en = messages("en"), es = messages("es");
  const sources = SOURCES.map((name) => readFileSync(new URL(name, STATIC), "utf8")).join("\n");
  const literal = new Set([...sources.matchAll(/"(timeline\.[a-z_.]+[a-z_])"/g)].map((m) => m[1]));
  const prefixes = [...sources.matchAll(/`(timeline\.[a-z_.]*)\$\{/g)].map((m) => m[1]);
  assert.ok(prefixes.every((p) => p.split(".").length > 2), prefixes.join(" "));  // no prefix stands for every key
  for (const key of literal) assert.ok(key in en && key in es, key);
  const catalog = Object.keys(en).filter((k) => k.startsWith("timeline."));
  const unused = catalog.filter((k) => !literal.has(k) && !prefixes.some((p) => k.startsWith(p)));
  assert.deepEqual(unused, []);
  assert.ok(literal.size > 15 && prefixes.length > 8, `${literal.size} keys, ${prefixes.length} prefixes`);
});

test("the time axis is labelled from the fault's activation with only the decimals a tick needs", () => {
  assert.deepEqual([0, 500, -1000, 1500, 2000, 2250, 1005].map((ms) => tickLabel(ms, "es")),
    ["0", "+500 ms", "−1 s", "+1,5 s", "+2 s", "+2,25 s", "+1,005 s"]);
  assert.equal(tickLabel(12000, "en"), "+12 s");
  const {svg} = timelineSvg(EPISODE, {words: words("es"), lang: "es"});
  const ticks = [...svg.matchAll(/class="tl-tick-label"[^>]*>([^<]+)</g)].map((m) => m[1]);
  assert.deepEqual(ticks, ["−1 s", "−500 ms", "0", "+500 ms", "+1 s", "+1,5 s", "+2 s", "+2,5 s", "+3 s"]);
});
