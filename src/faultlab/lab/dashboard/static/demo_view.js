// What the demo's presentation page shows of a demo state (GET /api/demo), as plain decisions and HTML strings (no
// DOM here): the sentence under way, the progress line, every step, the report. Unit-tested by
// tests/js/dashboard/demo.test.js.

import {esc} from "./common.js";
import {t} from "./i18n.js";

/** What the page shows of a demo state: the sentence under way, the progress line, the finished steps, the report
 * link, and whether its timeline is new (by the step it belongs to). */
export function demoView(state) {
  if (!state || !state.steps) {
    return {sentence: t("demo.none"), stage: "", progress: "—", steps: [], report: null, timelineKey: null};
  }
  const total = state.steps.length;
  const current = Math.min(state.current, total - 1);
  const step = state.steps[current];
  let progress;
  if (state.finished) progress = state.interrupted ? t("demo.interrupted") : t("demo.finished");
  else progress = t("demo.progress", {n: current + 1, total});
  return {
    sentence: state.finished && state.current >= total ? state.steps[total - 1].sentence : step.sentence,
    stage: state.finished ? "finished" : step.stage,
    progress,
    steps: state.steps.map((s, i) => ({text: s.sentence, stage: s.stage, current: i === state.current && !state.finished})),
    report: state.report,
    timelineKey: state.timeline ? `${state.timeline_step}:${state.timeline.window.start}` : null,
  };
}

/** The finished and coming steps as list items. */
export function stepsHtml(steps) {
  return steps.map((s) => `<li data-stage="${esc(s.stage)}"${s.current ? " aria-current=\"step\"" : ""}>${esc(s.text)}</li>`)
    .join("");
}

