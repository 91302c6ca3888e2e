// The demo's presentation page for literal states: the sentence under way, the progress, the steps, the timeline key.
import assert from "node:assert/strict";
import {test} from "node:test";

import {demoView, stepsHtml} from "../../../src/faultlab/lab/dashboard/static/demo_view.js";

import {useLanguage} from "../catalog.js";

function state(extra = {}) {
  return {steps: [
    {phase: "crash", stage: "done", sentence: "Replica 1 now crashes; OFF after 12 ms; ON again 300 ms after."},
    {phase: "latency", stage: "detected", sentence: "Replica 2 now answers 1200 ms late; OFF after 171 ms."},
    {phase: "incorrect", stage: "waiting", sentence: "Next: incorrect on replica 1."},
  ], current: 1, finished: false, interrupted: false, report: null,
  timeline: {window: {start: 1000.5}}, timeline_step: 0, ...extra};
}

test("the sentence under way is the current step's, with the progress and the current step marked", () => {
  useLanguage("en");
  const view = demoView(state());
  assert.equal(view.sentence, "Replica 2 now answers 1200 ms late; OFF after 171 ms.");
  assert.equal(view.stage, "detected");
  assert.equal(view.progress, "step 2 of 3");
  assert.deepEqual(view.steps.map((s) => s.current), [false, true, false]);
  assert.equal(view.timelineKey, "0:1000.5");
  const html = stepsHtml(view.steps);
  assert.match(html, /<li data-stage="detected" aria-current="step">Replica 2 now answers 1200 ms late/);
});

test("a finished demo keeps its last sentence and says it finished, or was interrupted, in the page's language", () => {
  useLanguage("es");
  const done = demoView(state({current: 3, finished: true, report: "20261207T191922Z"}));
  assert.equal(done.sentence, "Next: incorrect on replica 1.");
  assert.equal(done.progress, "demostración terminada");
  assert.equal(done.report, "20261207T191922Z");
  assert.equal(demoView(state({finished: true, interrupted: true})).progress,
    "demostración interrumpida (Ctrl-C): fallos limpiados");
  useLanguage("en");
  assert.equal(demoView(null).sentence, "No demo has run in this lab yet: start one with the command faultlab demo");
  assert.equal(demoView(null).timelineKey, null);
});

test("a step's text is escaped", () => {
  assert.equal(stepsHtml([{text: "<b>", stage: "done", current: false}]), '<li data-stage="done">&lt;b&gt;</li>');
});
