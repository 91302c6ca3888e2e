// The reports page: the runs folder's list (experiments and detector studies), one run's phase table and its
// report.html, or one study's front and its study.html, in a frame.

import {$} from "./common.js";
import {lang, setupLanguageSwitch, t} from "./i18n.js";
import {
  compareUrl, frontRowsHtml, pickRun, resultRowsHtml, runRowHtml, runVerdictHtml, studySummaryHtml,
} from "./runs.js";

async function getJSON(url) {
  const resp = await fetch(url, {cache: "no-store"});
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

async function showRun(name) {
  document.querySelectorAll("#runs tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.run === name));
  const run = await getJSON(`/api/runs/${encodeURIComponent(name)}`);
  const study = run.kind === "study";
  const [page, json] = study ? ["study.html", "study.json"] : ["report.html", "report.json"];
  $("#run-detail").hidden = false;
  $("#run-label").textContent = study ? t("runs.study") : t("runs.run");
  $("#run-name").textContent = run.name + (run.latest ? ` ${t("runs.latest_mark")}` : "");
  const base = `/runs/${encodeURIComponent(run.name)}`;
  $("#run-html-link").href = `${base}/${page}`;
  $("#run-html-link").textContent = t("runs.open_file", {file: page});
  $("#run-json-link").href = `${base}/${json}`;
  $("#run-json-link").textContent = json;
  $("#run-html-link").hidden = !run.has_report_html;
  $("#run-json-link").hidden = !run.has_report_json;
  $("#experiment-detail").hidden = study;
  $("#study-detail").hidden = !study;
  if (study) {
    $("#study-summary").innerHTML = studySummaryHtml(run);
    $("#study-front tbody").innerHTML = frontRowsHtml(run.front);
  } else {
    $("#run-verdict").innerHTML = runVerdictHtml(run);
    $("#run-results tbody").innerHTML = resultRowsHtml(run.results);
  }
  const frame = $("#run-frame");
  frame.hidden = !run.has_report_html;
  frame.title = page;
  if (run.has_report_html) frame.src = `${base}/${page}#lang=${lang()}`;  // the page shows this language
  history.replaceState(null, "", `#run=${encodeURIComponent(run.name)}`);
}

async function loadRuns() {
  const data = await getJSON("/api/runs");
  $("#runs-dir").textContent = data.runs_dir;
  $("#no-runs").hidden = data.runs.length > 0;
  $("#runs tbody").innerHTML = data.runs.map(runRowHtml).join("");
  document.querySelectorAll("#runs tbody tr").forEach((tr) => tr.addEventListener("click", (ev) => {
    if (!ev.target.classList.contains("pick")) showRun(tr.dataset.run);  // ticking a run does not open it
  }));
  document.querySelectorAll("#runs input.pick").forEach((box) => box.addEventListener("change", updateCompare));
  const pick = pickRun(data.runs, location.hash);
  if (pick) await showRun(pick.name);
}

/** The ticked runs, oldest first (the table lists the newest first): the oldest is the comparison's reference. */
function ticked() {
  return [...document.querySelectorAll("#runs input.pick")].filter((box) => box.checked).map((box) => box.dataset.run)
    .reverse();
}

function updateCompare() {
  $("#compare-runs").disabled = compareUrl(ticked(), lang()) === null;
}

$("#compare-runs").addEventListener("click", () => {
  const url = compareUrl(ticked(), lang());
  if (url) window.open(url, "_blank", "noopener");
});

setupLanguageSwitch();
loadRuns().catch((err) => {
  $("#no-runs").hidden = false;
  $("#no-runs").textContent = t("runs.cannot_list", {error: err.message});
});
