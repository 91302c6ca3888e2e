// The demo's presentation page (/demo): the replicas' cards and the demo's steps from /api/demo (each step already
// said in the page's language, with the run's own figures), and the episode timeline of the step just finished drawn
// by the timeline component. Polled twice a second; nothing is sent. Its decisions are demo_view.js's.

import {$, esc} from "./common.js";
import {demoView, stepsHtml} from "./demo_view.js";
import {lang, setupLanguageSwitch, t} from "./i18n.js";
import {renderTimelines} from "./timeline.js";
import {cardHtml} from "./views.js";

const EVERY_MS = 500;

async function fetchJson(url) {
  const response = await fetch(url, {cache: "no-store"});
  return response.ok ? response.json() : null;
}

const shown = {timelineKey: null, sentence: null};

function showCards(instances, now) {
  const root = $("#demo-cards");
  root.innerHTML = (instances || []).map((inst) =>
    `<div class="card" id="card-${esc(inst.replica)}" data-replica="${esc(inst.replica)}" data-status="${esc(inst.status)}">${cardHtml(inst, now)}</div>`)
    .join("");
}

function showDemo(state, colours) {
  const view = demoView(state);
  $("#demo-progress").textContent = view.progress;
  $("#demo-title").textContent = state && state.title ? state.title : "";
  const sentence = $("#demo-sentence");
  if (shown.sentence !== view.sentence) {
    sentence.textContent = view.sentence;
    shown.sentence = view.sentence;
  }
  sentence.dataset.stage = view.stage;
  $("#demo-steps").innerHTML = stepsHtml(view.steps);
  $("#demo-report").innerHTML = view.report
    ? `${esc(t("demo.report"))} <a href="/runs/${encodeURIComponent(view.report)}/report.html">${esc(view.report)}</a>` : "";
  if (view.timelineKey !== null && view.timelineKey !== shown.timelineKey) {
    shown.timelineKey = view.timelineKey;
    const words = JSON.parse($("#i18n").textContent).messages;
    renderTimelines($("#demo-timeline"), [state.timeline], {lang: lang(), words, colours});
  }
}

async function tick(colours) {
  try {
    const answer = await fetchJson(`/api/demo?lang=${lang()}`);
    if (answer) {
      showCards(answer.instances, answer.at);
      showDemo(answer.demo, colours);
    }
  } finally {
    setTimeout(() => tick(colours), EVERY_MS);
  }
}

if (typeof document !== "undefined" && $("#demo-sentence")) {
  setupLanguageSwitch();
  const kinds = JSON.parse($("#fault-kinds").textContent).kinds || [];
  const colours = Object.fromEntries(kinds.map((k) => [k.kind, k.colour]));
  tick(colours);
}
