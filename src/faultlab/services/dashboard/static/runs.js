// The reports page's tables from /api/runs and /api/runs/{name}, as HTML strings (no DOM here).

import {esc, num} from "./common.js";
import {t} from "./i18n.js";

/** A run's verdict: valid, missed, or unknown. */
export function verdictHtml(valid) {
  if (valid === true) return `<span class="ok-text">${t("runs.valid")}</span>`;
  if (valid === false) return `<span class="bad-text">${t("runs.missed")}</span>`;
  return '<span class="muted">—</span>';
}

/** One row of the past-runs table (its first cell ticks the run for a comparison). */
export function runRowHtml(r) {
  const s = r.summary || {};
  const pick = r.has_report_json ? `<input type="checkbox" class="pick" data-run="${esc(r.name)}">` : "";
  return `<tr data-run="${esc(r.name)}"><td>${pick}</td><td><span translate="no">${esc(r.name)}</span>${r.latest ? ` <b>${t("runs.latest")}</b>` : ""}</td>
      <td>${esc(r.start_time ?? "—")}</td><td>${num(r.duration_s, 1)}</td><td translate="no">${esc((r.phases || []).join(", "))}</td>
      <td>${verdictHtml(r.valid)}</td><td>${esc(s.successful_tests ?? "—")}/${esc(s.total_tests ?? "—")}</td>
      <td>${num(s.avg_ttd_ms, 1)}</td><td>${num(s.avg_ttr_ms, 1)}</td><td>${num(s.max_p95_ms, 1)}</td>
      <td>${num(s.min_success_rate, 2)}</td></tr>`;
}

/** "yes", "no" or "—" for a phase run's passed flag. */
export function passedText(passed) {
  if (passed === true) return t("runs.yes");
  if (passed === false) return t("runs.no");
  return "—";
}

/** The phase-results table body of one run. */
export function resultRowsHtml(results) {
  return results.map((r) => `<tr><td>${esc(r.phase)}</td><td>${esc(r.repetition ?? "")}</td>
    <td>${num(r.ttd_ms, 1)}</td><td>${num(r.ttr_ms, 1)}</td><td>${num(r.rps, 1)}</td><td>${num(r.p50_ms, 1)}</td>
    <td>${num(r.p95_ms, 1)}</td><td>${num(r.p99_ms, 1)}</td><td>${num(r.success_rate, 2)}</td>
    <td>${passedText(r.passed)}</td><td translate="no">${esc((r.missed || []).join("; "))}</td></tr>`)
    .join("") || `<tr><td colspan="11" class="muted">${t("runs.no_results")}</td></tr>`;
}

/** The verdict line of one run: the verdict, what it missed, and why report.json could not be read. */
export function runVerdictHtml(run) {
  const missed = (run.verdict && run.verdict.missed) || [];
  return `${t("runs.verdict")} ${verdictHtml(run.valid)}`
    + (missed.length ? ` — <span translate="no">${missed.map(esc).join("; ")}</span>` : "")
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
