// study.html's scatters from literal study data: the detectors' marks, the missed row, the front and the marks of the
// lab's and the recommended setting, in each language.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  DEFAULT_LABELS, DETECTOR_COLOURS, fill, formatNumber, frontOf, missedRow, plotText, rate, scatterFigure,
} from "../../../src/faultlab/lab/study/static/study.js";

function setting(label, detector, p95, perHour, extra = {}) {
  return {label, detector, current: false, on_front: {}, ttd: {hang: {median_ms: p95 === null ? null : p95 / 2,
    p95_ms: p95, missed: p95 === null ? 1 : 0}}, per_hour: {"fault-free": perHour, noisy: perHour, quiet: 0},
  ...extra};
}

const DATA = {
  kinds: ["hang"], recommended: "error-rate w=20",
  results: [
    setting("consecutive k=3", "consecutive", 240, 0, {current: true, on_front: {hang: false}}),
    setting("consecutive k=1", "consecutive", 100, 6, {on_front: {hang: true}}),
    setting("error-rate w=20", "error-rate", 200, 0, {on_front: {hang: true}}),
    setting("phi t=8", "phi-accrual", null, 3),
    setting("future x=1", "future-detector", 500, 1),
    {label: "only crash", detector: "consecutive", current: false, on_front: {}, ttd: {crash: {p95_ms: 1}},
      per_hour: {}},
  ],
};

test("one trace per detector, in the page's detector order, coloured; an unknown detector is grey", () => {
  const fig = scatterFigure(DATA, "hang");
  const marks = fig.data.filter((tr) => tr.mode === "markers" && !tr.name.includes(":"));
  assert.deepEqual(marks.map((tr) => tr.name), ["consecutive", "error-rate", "phi-accrual", "future-detector"]);
  assert.deepEqual(marks.map((tr) => tr.marker.color), [DETECTOR_COLOURS.consecutive, DETECTOR_COLOURS["error-rate"],
    DETECTOR_COLOURS["phi-accrual"], "#7f7f7f"]);
  assert.deepEqual(marks[0].x, [0, 6]);  // false OFFs per hour on the fault-free stretches
  assert.deepEqual(marks[0].y, [240, 100]);
  assert.equal(marks[0].x.length, 2);  // a setting without this fault kind is left out
});

test("a setting that missed a fault sits on the missed row, as an x, above every finite p95", () => {
  assert.deepEqual(missedRow(DATA.results, "hang"), {y: 500 * 1.15 + 10, drawn: true});
  const fig = scatterFigure(DATA, "hang");
  const phi = fig.data.find((tr) => tr.name === "phi-accrual");
  assert.deepEqual(phi.y, [585]);
  assert.deepEqual(phi.marker.symbol, ["x"]);
  assert.equal(fig.layout.shapes[0].y0, 585);
  assert.equal(fig.layout.annotations[0].text, DEFAULT_LABELS.missed);
  const none = scatterFigure({results: [setting("a", "consecutive", null, 0)]}, "hang");
  assert.deepEqual([none.layout.shapes, none.layout.annotations], [[], []]);  // no finite p95: no row drawn
});

test("the front is a step line through its settings by false OFFs per hour, then p95", () => {
  assert.deepEqual(frontOf(DATA.results, "hang").map((r) => r.label), ["error-rate w=20", "consecutive k=1"]);
  const line = scatterFigure(DATA, "hang").data.find((tr) => tr.mode === "lines");
  assert.deepEqual([line.name, line.x, line.y, line.line.shape], ["Pareto front", [0, 6], [200, 100], "hv"]);
});

test("the lab's setting is a star and the recommended one a diamond, each named with its setting", () => {
  const fig = scatterFigure(DATA, "hang");
  const star = fig.data.find((tr) => (tr.marker || {}).symbol === "star");
  assert.deepEqual([star.name, star.x, star.y], ["the lab's current setting: consecutive k=3", [0], [240]]);
  const diamond = fig.data.find((tr) => (tr.marker || {}).symbol === "diamond-open");
  assert.deepEqual([diamond.name, diamond.x, diamond.y], ["recommended: error-rate w=20", [0], [200]]);
  const nothing = scatterFigure({...DATA, recommended: null}, "hang");
  assert.equal(nothing.data.filter((tr) => tr.marker && tr.marker.symbol === "diamond-open").length, 0);
});

test("hover text and titles speak the page's language, with its separators, and escape the data", () => {
  const es = {...DEFAULT_LABELS, title: "{kind}: tiempo de detección frente a falsas alarmas",
    hover: "{setting}<br>TTD p95 {p95} ms · mediana {median} ms · sin detectar {missed}<br>ruidoso {noisy} · "
      + "tranquilo {quiet}", separators: ",.", kinds: {hang: "bloqueo (hang)"}};
  const data = {...DATA, results: [setting("a<b>", "consecutive", 1234.5, 0.5)]};
  const fig = scatterFigure(data, "hang", es, "es");
  assert.equal(fig.data[0].text[0], "a&lt;b&gt;<br>TTD p95 1234,5 ms · mediana 617,3 ms · sin detectar 0<br>"
    + "ruidoso 0,50 · tranquilo 0,00");
  assert.equal(fig.layout.title.text, "bloqueo (hang): tiempo de detección frente a falsas alarmas");
  assert.equal(fig.layout.separators, ",.");
  assert.equal(scatterFigure(data, "hang").layout.title.text, "hang: detection time against false alarms");
});

test("the small helpers: numbers, fields, escaping, rates", () => {
  assert.equal(formatNumber(1234.567, 1, "en"), "1,234.6");
  assert.equal(formatNumber(null, 1), "-");
  assert.equal(fill("{a} and {b}", {a: 1}), "1 and {b}");
  assert.equal(plotText("<x & y>"), "&lt;x &amp; y&gt;");
  assert.equal(rate({per_hour: {noisy: 2}}, "noisy"), 2);
  assert.equal(rate({per_hour: {}}), null);
});
