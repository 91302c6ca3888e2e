// compare.html's charts, drawn from the page's JSON block (the comparison and each language's labels), and its
// language switch. Inlined into the page as a module after Plotly's bundle; the functions are exported for the unit
// tests (tests/js/lab/).

export const RUN_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

/** One metric's chart: per phase, each run's median as a bar, its exact interval as the error bar (from 6 values). */
export function metricFigure(comparison, metric, labels = {}) {
  const rows = comparison.rows.filter((r) => r.metric === metric);
  const phases = rows.map((r) => r.phase);
  const traces = comparison.runs.map((run, i) => {
    const cells = rows.map((r) => r.runs[i]);
    const y = cells.map((c) => c.median);
    const up = cells.map((c) => (c.interval && c.median !== null ? c.interval[1] - c.median : 0));
    const down = cells.map((c) => (c.interval && c.median !== null ? c.median - c.interval[0] : 0));
    return {type: "bar", name: run.name, x: phases, y, marker: {color: RUN_COLOURS[i % RUN_COLOURS.length]},
      error_y: {type: "data", symmetric: false, array: up, arrayminus: down, visible: true}};
  });
  const title = (labels.metrics || {})[metric] || metric;
  return {data: traces, layout: {height: 320, barmode: "group", title: {text: title, font: {size: 14}},
    margin: {t: 40, l: 60, r: 10, b: 60}, yaxis: {rangemode: "tozero"}, xaxis: {type: "category"},
    legend: {orientation: "h", y: -0.25}}};
}

/** Every metric's chart of one language's view into its place (`compare-<metric>-<lang>`), once. */
export function drawCompare(data, lang, root = document) {
  const labels = (data.labels || {})[lang] || {};
  for (const el of root.querySelectorAll(`div[data-metric][id$="-${lang}"]`)) {
    if (el.dataset.drawn) continue;
    const fig = metricFigure(data.comparison, el.dataset.metric, labels);
    if (!fig.data.length || !fig.data[0].x.length) continue;
    Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
    el.dataset.drawn = "yes";
  }
}

export const LANG_KEY = "faultlab-lang";

/** The language to show: `#lang=xx`, else the reader's last choice, else the page's; only languages it has. */
export function pickLanguage(hash, stored, rendered, available) {
  const wanted = [(hash.match(/lang=([a-z]{2})/) || [])[1], stored, rendered];
  return wanted.find((lang) => lang && available.includes(lang)) || available[0];
}

function storedLanguage() {
  try { return localStorage.getItem(LANG_KEY); } catch { return null; }
}

function showLanguage(data, lang, remember = false) {
  for (const view of document.querySelectorAll("div.lang[data-lang]")) view.hidden = view.dataset.lang !== lang;
  for (const button of document.querySelectorAll(".langs button[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
  }
  document.documentElement.lang = lang;
  drawCompare(data, lang);
  if (remember) {
    try { localStorage.setItem(LANG_KEY, lang); } catch { /* no storage: the choice lasts this visit */ }
  }
}

const block = typeof document === "undefined" ? null : document.getElementById("compare-data");
if (block) {
  const data = JSON.parse(block.textContent);
  const available = [...document.querySelectorAll("div.lang[data-lang]")].map((v) => v.dataset.lang);
  showLanguage(data, pickLanguage(location.hash, storedLanguage(), document.documentElement.lang, available));
  for (const button of document.querySelectorAll(".langs button[data-lang]")) {
    button.addEventListener("click", () => showLanguage(data, button.dataset.lang, true));
  }
}
