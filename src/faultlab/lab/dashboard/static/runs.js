// The reports page's tables from /api/runs and /api/runs/{name}, as HTML strings (no DOM here): experiments and
// detector studies, each with its kind.

import {esc, num} from "./common.js";
import {say, t} from "./i18n.js";

/** A run's verdict: valid, missed, or unknown. */
export function verdictHtml(valid) {
  if (valid === true) return `<span class="ok-text">${t("runs.valid")}</span>`;
  if (valid === false) return `<span class="bad-text">${t("runs.missed")}</span>`;
  return '<span class="muted">—</span>';
}

/** What a run is: an experiment or a detector study. */
export function kindBadgeHtml(kind) {
  return kind === "study" ? `<span class="kind" data-kind="study">${t("runs.kind.study")}</span>`
    : `<span class="kind" data-kind="experiment">${t("runs.kind.experiment")}</span>`;
}

/** A study's answer in one line: the lab's setting, the recommended one, where the lab's setting is on the front. */
export function studyLineHtml(study) {
  const s = study || {};
  const setting = (label) => `<code translate="no">${esc(label ?? "—")}</code>`;
  const kinds = s.current_on_front || [];
  const onFront = kinds.length
    ? `<span class="ok-text">${t("study.on_front")}</span> <span translate="no">${esc(kinds.join(", "))}</span>`
    : `<span class="bad-text">${t("study.on_no_front")}</span>`;
  const pick = s.recommended ? setting(s.recommended) : `<span class="muted">${t("study.no_pick")}</span>`;
  return `${t("study.current")} ${setting(s.current)} (${onFront}) · ${t("study.recommended")} ${pick}`;
}

/** One row of the past-runs table: an experiment's verdict and summary figures, or a study's answer (an
 * experiment's first cell ticks it for a comparison). */
export function runRowHtml(r) {
  const s = r.summary || {};
  const pick = r.kind !== "study" && r.has_report_json
    ? `<input type="checkbox" class="pick" data-run="${esc(r.name)}">` : "";
  const head = `<tr data-run="${esc(r.name)}" data-kind="${r.kind === "study" ? "study" : "experiment"}">`
    + `<td>${pick}</td><td><span translate="no">${esc(r.name)}</span>${r.latest ? ` <b>${t("runs.latest")}</b>` : ""}</td>
      <td>${kindBadgeHtml(r.kind)}</td><td translate="no">${esc(r.start_time ?? "—")}</td><td>${num(r.duration_s, 1)}</td>
      <td translate="no">${esc((r.phases || []).join(", "))}</td>`;
  if (r.kind === "study") return `${head}<td colspan="6" class="study">${studyLineHtml(r.study)}</td></tr>`;
  const replay = `<a class="replay" href="/replay/${encodeURIComponent(r.name)}">${t("reports.replay")}</a>`;
  return `${head}<td>${verdictHtml(r.valid)} · ${replay}</td>
      <td>${num(s.successful_tests, 0)}/${num(s.total_tests, 0)}</td><td>${num(s.avg_ttd_ms, 1)}</td>
      <td>${num(s.avg_ttr_ms, 1)}</td><td>${num(s.max_p95_ms, 1)}</td><td>${num(s.min_success_rate, 2)}</td></tr>`;
}

/** The front table body of a study (/api/runs/{name}'s `front`): the lab's setting ★, the recommended one ◆. */
export function frontRowsHtml(front) {
  return (front || []).map((r) => `<tr${r.current ? ' class="current"' : ""}>`
    + `<td><span translate="no">${esc(r.setting)}</span>`
    + (r.current ? ` <span title="${t("study.mark_current")}">★</span>` : "")
    + (r.recommended ? ` <span title="${t("study.mark_recommended")}">◆</span>` : "")
    + `</td><td>${num(r.ttd_median_ms, 1)}</td><td>${num(r.ttd_p95_ms, 1)}</td><td>${num(r.missed, 0)}</td>
    <td>${num(r.flaps, 0)}</td><td>${num(r.false_off_per_hour, 2)}</td>
    <td>${num(r.false_off_per_hour_noisy, 2)}</td><td>${num(r.false_off_per_hour_quiet, 2)}</td></tr>`)
    .join("") || `<tr><td colspan="8" class="muted">${t("runs.no_front")}</td></tr>`;
}

/** The lines above a study's front: what the front is, then the study's answer (and why study.json could not be
 * read). */
export function studySummaryHtml(run) {
  const s = run.study || {};
  const kind = `<span translate="no">${esc(s.focus ?? "—")}</span>`;
  return t("study.front", {kind, settings: esc(s.settings ?? "—"), budget: num(s.budget_per_hour, 1)})
    + `<br>${studyLineHtml(s)}`
    + (run.problem ? ` — <span translate="no">${esc(run.problem)}</span>` : "");
}

/** "yes", "no" or "—" for a phase run's passed flag. */
export function passedText(passed) {
  if (passed === true) return t("runs.yes");
  if (passed === false) return t("runs.no");
  return "—";
}

/** The phase-results table body of one run. */
export function resultRowsHtml(results) {
  return results.map((r) => `<tr><td translate="no">${esc(r.phase)}</td><td>${esc(r.repetition ?? "")}</td>
    <td>${num(r.ttd_ms, 1)}</td><td>${num(r.ttr_ms, 1)}</td><td>${num(r.rps, 1)}</td><td>${num(r.p50_ms, 1)}</td>
    <td>${num(r.p95_ms, 1)}</td><td>${num(r.p99_ms, 1)}</td><td>${num(r.success_rate, 2)}</td>
    <td>${passedText(r.passed)}</td><td>${esc((r.missed || []).map(say).join("; "))}</td></tr>`)
    .join("") || `<tr><td colspan="11" class="muted">${t("runs.no_results")}</td></tr>`;
}

/** The verdict line of one run: the verdict, what it missed, and why report.json could not be read. */
export function runVerdictHtml(run) {
  const missed = (run.verdict && run.verdict.missed) || [];
  return `${t("runs.verdict")} ${verdictHtml(run.valid)}`
    + (missed.length ? ` — <span class="missed">${missed.map((m) => esc(say(m))).join("; ")}</span>` : "")
    + (run.problem ? ` — <span translate="no">${esc(run.problem)}</span>` : "");
}

/** The comparison page of the ticked runs (in the page's order), or null while fewer than two are ticked. */
export function compareUrl(names, lang) {
  if (names.length < 2) return null;
  return `/compare?runs=${names.map(encodeURIComponent).join(",")}&lang=${encodeURIComponent(lang)}`;
}

/** The run to show first: the one named in the page's #run= fragment, else the latest, else the newest. */
export function pickRun(runs, hash) {
  const wanted = decodeURIComponent((hash.match(/run=([^&]+)/) || [])[1] || "");
  return runs.find((r) => r.name === wanted) || runs.find((r) => r.latest) || runs[0];
}
