// The episode timeline drawn as one SVG string: a row per lane over the episode's seconds (TTD and TTR as spans with
// their numbers, a detector's threshold dashed and the moment it is crossed, lanes not recorded marked so). Pure: the
// string and the rows' places, for timeline.js to put in the page and the node tests to read. Many events of a kind
// are one <path> (10,000 health checks stay a handful of elements).

import {
  CHECK_OUTCOMES, DIGITS, VOTER_OUTCOMES, formatNumber, origin, recordedLane, say, spanLabel,
} from "./timeline_steps.js";

export const WIDTH = 960;
const LEFT = 176, RIGHT = 14, AXIS = 24, GAP = 3, BOTTOM = 4;
const HEIGHT = {ttd: 20, ttr: 20, fault: 22, checks: 22, detector: 38, monitor: 22, voter: 32, recovery: 22, lane: 22};
export const NO_FAULT_COLOUR = "#999999";  // a fault of a kind with no colour
export const COLOURS = {
  ok: "#2ca02c", slow: "#ff7f0e", stale: "#8c564b", timeout: "#9467bd", failed: "#d62728",
  ON: "#2ca02c", OFF: "#d62728", UNKNOWN: "#bbbbbb",
  answered: "#2ca02c", behind: "#1f77b4", wrong: "#d62728",
  ttd: "#d62728", ttr: "#1f77b4", recovery: "#137333", threshold: "#555555", off: "#b3261e",
};
const TICKS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000];

const ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

/** Text made safe inside SVG or HTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const r1 = (v) => Math.round(v * 10) / 10;

/** The rows of one episode's drawing, top to bottom: {key, lane, label, y, h, recorded, ...}. */
export function layoutRows(doc, words) {
  const rows = [];
  let y = AXIS;
  const push = (row, h) => {
    rows.push({...row, y, h});
    y += h + GAP;
  };
  for (const name of ["ttd", "ttr"]) {
    if (doc[name]) push({key: name, lane: "spans", label: say(words, `timeline.lane.${name}`), recorded: true}, HEIGHT[name]);
  }
  for (const lane of ["fault", "checks", "detectors", "monitor", "voter", "recovery"]) {
    const data = recordedLane(doc, lane);
    const label = say(words, `timeline.lane.${lane}`);
    if (!data) {
      push({key: lane, lane, label, recorded: false}, HEIGHT.lane);
    } else if (lane === "detectors") {
      data.items.forEach((det, d) => det.series.forEach((series, i) => push({key: `detector-${d}-${i}`, lane, recorded: true,
        label: `${det.decides ? "★ " : ""}${det.name}`, sub: say(words, `timeline.measure.${series.measure}`),
        detector: d, series: i}, HEIGHT.detector)));
    } else {
      push({key: lane, lane, label, recorded: true}, HEIGHT[lane]);
    }
  }
  return rows;
}

/** The x of a moment (UNIX s) on the drawing, inside the plot. */
export function xScale(doc) {
  const {start, end} = doc.window;
  const span = Math.max(end - start, 1e-6), width = WIDTH - LEFT - RIGHT;
  return (at) => LEFT + Math.min(1, Math.max(0, (at - start) / span)) * width;
}

/** Where a step is drawn: its moment's x and the middle of its row. */
export function stepPoint(step, rows, x) {
  const row = rows.find((r) => r.key === step.row) || rows[0];
  return {x: x(step.at), y: row.y + row.h / 2};
}

/** An axis tick's label, `ms` from the origin: "0", "+500 ms", "−1 s", "+1,5 s" (only the decimals it needs). */
export function tickLabel(ms, lang) {
  if (ms === 0) return "0";
  const size = Math.abs(ms), sign = ms < 0 ? "−" : "+";
  if (size < 1000) return `${sign}${formatNumber(size, 0, lang)} ms`;
  const digits = [1000, 100, 10].findIndex((unit) => size % unit === 0);
  return `${sign}${formatNumber(size / 1000, digits < 0 ? 3 : digits, lang)} s`;
}

function axis(doc, x, height, lang) {
  const {start, end} = doc.window, zero = origin(doc);
  const step = TICKS_MS.find((ms) => (end - start) * 1000 / ms <= 10) || TICKS_MS[TICKS_MS.length - 1];
  const parts = [];
  for (let k = Math.ceil((start - zero) * 1000 / step); zero + k * step / 1000 <= end; k += 1) {
    const at = zero + k * step / 1000, px = r1(x(at));
    const label = tickLabel(k * step, lang);
    parts.push(`<line class="tl-tick" x1="${px}" x2="${px}" y1="${AXIS - 4}" y2="${height - BOTTOM}" stroke="#eee"/>`,
      `<text class="tl-tick-label" x="${px}" y="${AXIS - 8}" text-anchor="middle" font-size="10" fill="#666">${esc(label)}</text>`);
  }
  return parts.join("");
}

function rowFrame(row, words, id) {
  const lines = [`<text class="tl-label" x="6" y="${r1(row.y + (row.sub ? row.h / 2 - 3 : row.h / 2 + 4))}" font-size="12" fill="#222"${row.label.startsWith("★") ? ' font-weight="600"' : ""}>${esc(row.label)}</text>`];
  if (row.sub) lines.push(`<text class="tl-sublabel" x="6" y="${r1(row.y + row.h / 2 + 11)}" font-size="10" fill="#666">${esc(row.sub)}</text>`);
  lines.push(`<rect class="tl-row" x="${LEFT}" y="${row.y}" width="${WIDTH - LEFT - RIGHT}" height="${row.h}" fill="#fafafa"/>`);
  if (!row.recorded) {
    lines.push(`<rect class="tl-not-recorded" x="${LEFT}" y="${row.y}" width="${WIDTH - LEFT - RIGHT}" height="${row.h}" fill="url(#${id}-hatch)" stroke="#ccc"/>`,
      `<text class="tl-not-recorded-label" x="${(LEFT + WIDTH - RIGHT) / 2}" y="${r1(row.y + row.h / 2 + 4)}" text-anchor="middle" font-size="11" fill="#555">${esc(say(words, "timeline.not_recorded"))}</text>`);
  }
  return lines.join("");
}

function spanRow(doc, row, x, words, lang) {
  const span = doc[row.key], colour = COLOURS[row.key], mid = r1(row.y + row.h - 5);
  const x0 = r1(x(span.start.at)), x1 = r1(span.end ? x(span.end.at) : x(doc.window.end));
  const dash = span.end ? "" : ' stroke-dasharray="4 3"';
  const label = esc(spanLabel(doc, row.key, words, lang));
  const anchor = x1 - x0 > 90 ? ["middle", r1((x0 + x1) / 2)] : ["start", r1(Math.min(x1 + 4, WIDTH - RIGHT - 80))];
  return `<g class="tl-span tl-${row.key}" data-start="${span.start.at}" data-end="${span.end ? span.end.at : ""}">`
    + `<path d="M${x0} ${mid - 5}V${mid}H${x1}${span.end ? `V${mid - 5}` : ""}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`
    + `<text class="tl-span-label" x="${anchor[1]}" y="${mid - 4}" text-anchor="${anchor[0]}" font-size="11" font-weight="600" fill="${colour}">${label}</text></g>`;
}

function faultRow(doc, row, x, colours) {
  const colour = (colours || {})[doc.fault.kind] || NO_FAULT_COLOUR;
  const from = doc.fault.activated_at ?? doc.fault.injected_at, to = doc.fault.cleared_at ?? doc.window.end;
  const parts = [];
  if (from !== null && from !== undefined) {
    parts.push(`<rect class="tl-fault-period" x="${r1(x(from))}" y="${row.y + 4}" width="${r1(Math.max(2, x(to) - x(from)))}" height="${row.h - 8}" fill="${colour}" fill-opacity="0.35" stroke="${colour}"/>`);
  }
  for (const e of doc.lanes.fault.events) {
    const px = r1(x(e.at)), cy = row.y + row.h / 2;
    parts.push(e.event === "injected"
      ? `<path class="tl-fault-${e.event}" d="M${px} ${cy - 6}L${px + 5} ${cy + 4}H${px - 5}Z" fill="#fff" stroke="${colour}" stroke-width="1.5"/>`
      : `<rect class="tl-fault-${e.event}" x="${px - 2}" y="${row.y + 1}" width="4" height="${row.h - 2}" fill="${colour}"/>`);
  }
  return `<g class="tl-fault" data-colour="${colour}">${parts.join("")}</g>`;
}

const SHAPES = {
  ok: (px, cy) => `M${px - 2.5} ${cy}a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0`,
  slow: (px, cy) => `M${px} ${cy - 4}L${px + 4} ${cy + 3}H${px - 4}Z`,
  stale: (px, cy) => `M${px - 3} ${cy - 3}h6v6h-6Z`,
  timeout: (px, cy) => `M${px} ${cy - 4}L${px + 4} ${cy}L${px} ${cy + 4}L${px - 4} ${cy}Z`,
  failed: (px, cy) => `M${px - 3.5} ${cy - 3.5}L${px + 3.5} ${cy + 3.5}M${px + 3.5} ${cy - 3.5}L${px - 3.5} ${cy + 3.5}`,
};

/** A check outcome's mark as path data centred on (px, cy) (the legend draws the same shapes). */
export function checkShape(outcome, px, cy) {
  return SHAPES[outcome](px, cy);
}

function checksRow(doc, row, x) {
  const paths = Object.fromEntries(CHECK_OUTCOMES.map((o) => [o, []]));
  const cy = r1(row.y + row.h / 2);
  for (const c of doc.lanes.checks.items) paths[c.outcome].push(SHAPES[c.outcome](r1(x(c.at)), cy));
  return CHECK_OUTCOMES.filter((o) => paths[o].length).map((o) => o === "failed"
    ? `<path class="tl-check tl-check-${o}" data-count="${paths[o].length}" d="${paths[o].join("")}" fill="none" stroke="${COLOURS[o]}" stroke-width="1.6"/>`
    : `<path class="tl-check tl-check-${o}" data-count="${paths[o].length}" d="${paths[o].join("")}" fill="${COLOURS[o]}"/>`).join("");
}

function detectorRow(doc, row, x, lang) {
  const det = doc.lanes.detectors.items[row.detector], series = det.series[row.series];
  const finite = series.points.map(([, v]) => v).filter((v) => v !== null);
  const top = series.measure === "success_pct" ? 100 : Math.max(series.threshold * 1.5, ...finite, 1) * 1.05;
  const y = (v) => r1(row.y + row.h - 3 - (Math.min(v, top) / top) * (row.h - 6));
  let d = "", pen = false;
  for (const [i, [at, v]] of series.points.entries()) {
    const px = r1(x(at)), value = v === null ? (series.measure === "phi" ? top : null) : v;
    if (value === null) {
      if (pen) d += `H${px}`;  // the value holds until this point, then it is not known
      pen = false;
    } else {
      d += pen ? `H${px}V${y(value)}` : `M${px} ${y(value)}`;
      pen = true;
    }
    if (pen && i === series.points.length - 1) d += `H${r1(x(doc.window.end))}`;
  }
  const ty = y(series.threshold), rule = `${series.above ? "≥" : "<"} ${formatNumber(series.threshold, DIGITS[series.measure], lang)}`;
  const parts = [`<path class="tl-series" d="${d}" fill="none" stroke="#333" stroke-width="1.4"/>`,
    `<line class="tl-threshold" data-threshold="${series.threshold}" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${ty}" y2="${ty}" stroke="${COLOURS.threshold}" stroke-dasharray="5 3"/>`,
    `<text class="tl-threshold-label" x="${WIDTH - RIGHT - 2}" y="${ty - 2}" text-anchor="end" font-size="9" fill="${COLOURS.threshold}">${esc(rule)}</text>`];
  if (series.crossed_at !== null) {
    parts.push(`<circle class="tl-cross" data-at="${series.crossed_at}" cx="${r1(x(series.crossed_at))}" cy="${ty}" r="3.5" fill="${COLOURS.off}"/>`);
  }
  if (det.off_at !== null && row.series === 0) {
    const px = r1(x(det.off_at));
    parts.push(`<line class="tl-off" data-at="${det.off_at}" x1="${px}" x2="${px}" y1="${row.y}" y2="${row.y + row.h}" stroke="${COLOURS.off}" stroke-width="2"/>`,
      `<text class="tl-off-label" x="${px + 3}" y="${row.y + 10}" font-size="9" font-weight="600" fill="${COLOURS.off}">OFF</text>`);
  }
  return `<g class="tl-detector" data-detector="${esc(det.name)}" data-measure="${series.measure}">${parts.join("")}</g>`;
}

function monitorRow(doc, row, x) {
  const lane = doc.lanes.monitor, parts = [];
  let status = lane.initial, from = doc.window.start;
  const segment = (to) => {
    if (!status) return;
    const x0 = r1(x(from)), w = r1(Math.max(0, x(to) - x(from)));
    parts.push(`<rect class="tl-status tl-status-${status}" x="${x0}" y="${row.y + 3}" width="${w}" height="${row.h - 6}" fill="${COLOURS[status]}" fill-opacity="0.55"/>`);
    if (w > 30) parts.push(`<text x="${r1(x0 + 4)}" y="${r1(row.y + row.h / 2 + 4)}" font-size="10" fill="#111">${status}</text>`);
  };
  for (const tr of lane.transitions) {
    segment(tr.at);
    status = tr.status;
    from = tr.at;
  }
  segment(doc.window.end);
  return parts.join("");
}

function voterRow(doc, row, x) {
  const lane = doc.lanes.voter, paths = Object.fromEntries(VOTER_OUTCOMES.map((o) => [o, []]));
  const most = Math.max(1, ...lane.buckets.map((b) => VOTER_OUTCOMES.reduce((n, o) => n + b[o], 0)));
  const unit = (row.h - 4) / most;
  for (const b of lane.buckets) {
    const x0 = r1(x(b.start)), w = r1(Math.max(1, x(b.start + lane.bucket_ms / 1000) - x(b.start) - 0.5));
    let base = row.y + row.h - 2;
    for (const o of VOTER_OUTCOMES) {
      if (!b[o]) continue;
      const h = b[o] * unit;
      paths[o].push(`M${x0} ${r1(base - h)}h${w}v${r1(h)}h${-w}Z`);
      base -= h;
    }
  }
  return VOTER_OUTCOMES.filter((o) => paths[o].length).map((o) =>
    `<path class="tl-voter tl-voter-${o}" d="${paths[o].join("")}" fill="${COLOURS[o]}"/>`).join("");
}

function recoveryRow(doc, row, x) {
  const cy = r1(row.y + row.h / 2);
  return doc.lanes.recovery.events.map((e) => `<circle class="tl-recovery tl-recovery-${e.event}" cx="${r1(x(e.at))}" cy="${cy}" r="${e.event === "recovered" ? 5 : 3.5}" fill="${e.event === "recovered" ? COLOURS.recovery : "#fff"}" stroke="${COLOURS.recovery}" stroke-width="1.5"/>`).join("");
}

function guides(doc, x, top, bottom) {
  const moments = ["ttd", "ttr"].flatMap((n) => (doc[n] ? [doc[n].start, doc[n].end].filter(Boolean)
    .map((m) => [n, m.at]) : []));
  return moments.map(([n, at]) => `<line class="tl-guide" x1="${r1(x(at))}" x2="${r1(x(at))}" y1="${top}" y2="${bottom}" stroke="${COLOURS[n]}" stroke-opacity="0.35" stroke-dasharray="2 3"/>`).join("");
}

const DRAW = {fault: faultRow, checks: checksRow, monitor: monitorRow, voter: voterRow, recovery: recoveryRow};

/** The whole drawing of one episode: {svg, rows, height, x}. `colours`: the fault registry's colour of each kind;
 * `id`: unique in the page (the drawing's own ids start with it). */
export function timelineSvg(doc, {words = {}, lang = "en", colours = {}, id = "tl"} = {}) {
  const rows = layoutRows(doc, words), x = xScale(doc);
  const height = (rows.length ? rows[rows.length - 1].y + rows[rows.length - 1].h : AXIS) + BOTTOM;
  const body = [axis(doc, x, height, lang)];
  for (const row of rows) {
    body.push(rowFrame(row, words, id));
    if (!row.recorded) continue;
    if (row.lane === "spans") body.push(spanRow(doc, row, x, words, lang));
    else if (row.lane === "detectors") body.push(detectorRow(doc, row, x, lang));
    else body.push(DRAW[row.lane](doc, row, x, colours));
  }
  body.push(guides(doc, x, AXIS, height - BOTTOM));
  const svg = `<svg class="tl-svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" preserveAspectRatio="xMinYMin meet" aria-hidden="true" focusable="false">`
    + `<defs><pattern id="${id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#ddd" stroke-width="2"/></pattern></defs>`
    + body.join("")
    + `<line class="tl-cursor" x1="0" x2="0" y1="${AXIS}" y2="${height - BOTTOM}" stroke="#000" stroke-width="1" visibility="hidden"/>`
    + '<circle class="tl-ring" cx="0" cy="0" r="8" fill="none" stroke="#000" stroke-width="2" visibility="hidden"/></svg>';
  return {svg, rows, height, x};
}
