// The episode timeline as a page component: `renderTimelines(container, docs, {lang, words, colours})` draws one
// figure per episode (src/faultlab/lab/timeline.schema.json) into `container`. Tab reaches each episode; ←/→ step
// through its events in time order, Home/End jump to the first and the last; the step is highlighted and its text
// said in the episode's aria-live line; the pointer shows the same text over an event. The dashboard imports it from
// /static/timeline.js; report.html inlines it with timeline_steps.js and timeline_svg.js before its own script.
// No DOM work at import.

import {
  CHECK_OUTCOMES, VOTER_OUTCOMES, episodeSteps, moveStep, say, spanLabel, stepText,
} from "./timeline_steps.js";
import {COLOURS, WIDTH, checkShape, esc, stepPoint, timelineSvg} from "./timeline_svg.js";

const HOVER_PX = 8;  // how near (in the drawing's units) the pointer must be to an event to show it
const CSS = `
.tl-episode{margin:12px 0;padding:8px 10px;border:1px solid #ddd;border-radius:6px;font-size:13px;background:#fff}
.tl-episode:focus{outline:3px solid #1a73e8;outline-offset:2px}
.tl-episode figcaption{font-weight:600;margin:0 0 4px}
.tl-episode .tl-figures{font-weight:400;color:#444;margin-left:8px}
.tl-plot{position:relative}
.tl-svg{display:block;max-width:100%;height:auto}
.tl-tip{position:absolute;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:4px;
  font-size:12px;max-width:460px;z-index:5;white-space:normal}
.tl-live{min-height:1.4em;margin:4px 0;padding:4px 8px;background:#f4f6fb;border-left:3px solid #1a73e8}
.tl-legend{list-style:none;display:flex;flex-wrap:wrap;gap:2px 14px;padding:0;margin:4px 0;font-size:12px;color:#444}
.tl-legend svg{vertical-align:middle;margin-right:3px}
.tl-help{font-size:12px;color:#666;margin:2px 0}`;

/** Put the component's stylesheet into the page once. */
export function ensureStyle(doc) {
  if (doc.getElementById("tl-style")) return;
  const style = doc.createElement("style");
  style.id = "tl-style";
  style.textContent = CSS;
  doc.head.appendChild(style);
}

/** A message as HTML: its own words escaped, each {field} replaced by the HTML given for it. */
export function sayHtml(words, key, html = {}) {
  const text = (words || {})[key] ?? key;
  return text.split(/(\{\w+\})/).map((part) => {
    const name = (part.match(/^\{(\w+)\}$/) || [])[1];
    return name && name in html ? html[name] : esc(part);
  }).join("");
}

function params(fault) {
  return Object.entries(fault.params || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" ");
}

function legendHtml(doc, words) {
  const item = (svg, text) => `<li><svg width="12" height="12" viewBox="0 0 12 12">${svg}</svg>${esc(text)}</li>`;
  const checks = CHECK_OUTCOMES.map((o) => item(o === "failed"
    ? `<path d="${checkShape(o, 6, 6)}" fill="none" stroke="${COLOURS[o]}" stroke-width="1.6"/>`
    : `<path d="${checkShape(o, 6, 6)}" fill="${COLOURS[o]}"/>`, say(words, `timeline.outcome.${o}`)));
  const voter = VOTER_OUTCOMES.map((o) => item(`<rect x="1" y="1" width="10" height="10" fill="${COLOURS[o]}"/>`,
    say(words, `timeline.voter.${o}`)));
  const rules = [item(`<line x1="0" y1="6" x2="12" y2="6" stroke="${COLOURS.threshold}" stroke-dasharray="3 2"/>`,
    say(words, "timeline.legend.threshold")),
  item(`<line x1="6" y1="0" x2="6" y2="12" stroke="${COLOURS.off}" stroke-width="2"/>`, say(words, "timeline.legend.off"))];
  return `<ul class="tl-legend">${[...checks, ...voter, ...rules].join("")}<li>${esc(say(words, "timeline.legend.decides"))}</li></ul>`;
}

function figures(doc, words, lang) {
  return ["ttd", "ttr"].map((n) => spanLabel(doc, n, words, lang)).filter(Boolean).join(" · ");
}

function episodeHtml(doc, id, steps, drawing, words, lang) {
  const kind = doc.fault.kind ?? say(words, "timeline.no_fault");
  const caption = sayHtml(words, "timeline.caption", {replica: esc(doc.replica),
    kind: `<span translate="no">${esc(kind)}</span>`});
  const label = say(words, "timeline.label", {replica: doc.replica, kind, figures: figures(doc, words, lang),
    count: steps.length});
  const replayed = (doc.lanes.detectors || {}).source === "replay" ? ` ${esc(say(words, "timeline.replayed"))}` : "";
  return `<figure class="tl-episode" id="${id}" tabindex="0" role="group" aria-label="${esc(label)}" aria-describedby="${id}-help ${id}-note" data-replica="${esc(doc.replica)}" data-kind="${esc(doc.fault.kind ?? "")}" data-steps="${steps.length}">`
    + `<figcaption>${caption} <span class="tl-params" translate="no">${esc(params(doc.fault))}</span>`
    + `<span class="tl-figures">${esc(figures(doc, words, lang))}</span></figcaption>`
    + `<div class="tl-plot">${drawing.svg}<div class="tl-tip" role="tooltip" hidden></div></div>`
    + '<p class="tl-live" aria-live="polite" aria-atomic="true"></p>'
    + legendHtml(doc, words)
    + `<p class="tl-help" id="${id}-help">${esc(say(words, "timeline.help"))}</p>`
    + `<p class="tl-help" id="${id}-note">${esc(say(words, "timeline.origin"))}${replayed}</p></figure>`;
}

/** The steps of each drawing row, by x, for the pointer: {rowKey: [[x, stepIndex], ...]}. */
function rowIndex(steps, drawing) {
  const byRow = {};
  steps.forEach((s, i) => (byRow[s.row] ||= []).push([drawing.x(s.at), i]));
  for (const list of Object.values(byRow)) list.sort((a, b) => a[0] - b[0]);
  return byRow;
}

/** The step nearest to (x, y) in the drawing's units, within HOVER_PX, or -1. */
export function stepNear(x, y, rows, byRow) {
  const row = rows.find((r) => y >= r.y - 2 && y <= r.y + r.h + 2);
  const list = row ? byRow[row.key] || [] : [];
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid][0] < x) lo = mid + 1;
    else hi = mid;
  }
  let best = -1, gap = HOVER_PX;
  for (const k of [lo - 1, lo]) {
    if (k >= 0 && k < list.length && Math.abs(list[k][0] - x) <= gap) {
      gap = Math.abs(list[k][0] - x);
      best = list[k][1];
    }
  }
  return best;
}

class EpisodeView {
  constructor(figure, doc, steps, drawing, words, lang) {
    Object.assign(this, {figure, doc, steps, drawing, words, lang, index: -1});
    this.byRow = rowIndex(steps, drawing);
    this.svg = figure.querySelector("svg");
    this.live = figure.querySelector(".tl-live");
    this.tip = figure.querySelector(".tl-tip");
    this.cursor = this.svg.querySelector(".tl-cursor");
    this.ring = this.svg.querySelector(".tl-ring");
    figure.addEventListener("keydown", (event) => this.onKey(event));
    this.svg.addEventListener("mousemove", (event) => this.onPointer(event));
    this.svg.addEventListener("mouseleave", () => this.hideTip());
    this.svg.addEventListener("click", (event) => {
      const i = this.near(event);
      if (i >= 0) {
        this.show(i);
        figure.focus();
      }
    });
  }

  text(i) {
    return stepText(this.steps[i], this.doc, this.words, this.lang);
  }

  onKey(event) {
    const next = moveStep(this.index, event.key, this.steps.length);
    if (next === null) return;
    event.preventDefault();
    if (next >= 0) this.show(next);
  }

  /** Make step `i` the current one: highlighted, its text said. */
  show(i) {
    this.index = i;
    const {x, y} = stepPoint(this.steps[i], this.drawing.rows, this.drawing.x);
    for (const [name, value] of [["x1", x], ["x2", x]]) this.cursor.setAttribute(name, value);
    this.ring.setAttribute("cx", x);
    this.ring.setAttribute("cy", y);
    this.cursor.setAttribute("visibility", "visible");
    this.ring.setAttribute("visibility", "visible");
    this.figure.dataset.step = String(i);
    this.live.textContent = this.text(i);
  }

  near(event) {
    const box = this.svg.getBoundingClientRect();
    if (!box.width) return -1;
    const scale = WIDTH / box.width;
    return stepNear((event.clientX - box.left) * scale, (event.clientY - box.top) * scale, this.drawing.rows, this.byRow);
  }

  onPointer(event) {
    const i = this.near(event);
    if (i < 0) {
      this.hideTip();
      return;
    }
    const box = this.svg.getBoundingClientRect(), plot = this.tip.parentElement.getBoundingClientRect();
    this.tip.textContent = this.text(i);
    this.tip.dataset.step = String(i);
    this.tip.hidden = false;
    const left = Math.min(event.clientX - plot.left + 12, Math.max(0, box.width - this.tip.offsetWidth));
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${event.clientY - plot.top + 14}px`;
  }

  hideTip() {
    this.tip.hidden = true;
  }
}

/** Draw every episode into `container`: {lang, words (the `timeline.*` messages), colours (the fault registry's, by
 * kind)}. Drawn again (new data), an episode keeps its current step and, when it had it, the focus. Returns one view
 * per episode ({figure, steps, index, show(i)}). */
export function renderTimelines(container, docs, {lang = "en", words = {}, colours = {}} = {}) {
  const page = container.ownerDocument;
  ensureStyle(page);
  const before = Object.fromEntries((container.timelineViews || []).map((v) => [v.figure.id, v.index]));
  const focused = page.activeElement && container.contains(page.activeElement) ? page.activeElement.id : null;
  const prefix = container.id || "tl";
  const parts = docs.map((doc, n) => {
    const id = `${prefix}-r${doc.replica}-${Math.round((doc.fault.activated_at ?? doc.window.start) * 1000)}-${n}`;
    const steps = episodeSteps(doc);
    const drawing = timelineSvg(doc, {words, lang, colours, id});
    return {id, doc, steps, drawing, html: episodeHtml(doc, id, steps, drawing, words, lang)};
  });
  container.innerHTML = parts.length ? parts.map((p) => p.html).join("")
    : `<p class="tl-none">${esc(say(words, "timeline.none"))}</p>`;
  const views = parts.map((p) => new EpisodeView(page.getElementById(p.id), p.doc, p.steps, p.drawing, words, lang));
  for (const view of views) {
    const kept = before[view.figure.id];
    if (kept !== undefined && kept >= 0 && view.steps.length) view.show(Math.min(kept, view.steps.length - 1));
    if (view.figure.id === focused) view.figure.focus();
  }
  container.timelineViews = views;
  return views;
}

