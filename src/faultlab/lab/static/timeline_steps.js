// The episode timeline's events as steps, and the sentence of each step in the reader's language: pure functions on
// one episode's document (src/faultlab/lab/timeline.schema.json), the words passed in (the dashboard's catalog or
// report.html's block: the same `timeline.*` keys) and the language's number format. No DOM work at import.

export const LANES = ["fault", "checks", "detectors", "monitor", "voter", "recovery", "spans"];  // ties: this order
export const CHECK_OUTCOMES = ["ok", "slow", "stale", "timeout", "failed"];
export const VOTER_OUTCOMES = ["answered", "behind", "slow", "wrong", "failed"];
const KEYS = {ArrowRight: 1, ArrowLeft: -1};
const SPAN_LABELS = {ttd: "timeline.ttd", ttr: "timeline.ttr"};
export const DIGITS = {consecutive_failures: 0, window_failures: 0, phi: 2, success_pct: 1};

/** A message of `words` with its {fields} filled from `params` (a missing key shows as itself). */
export function say(words, key, params = {}) {
  const text = (words || {})[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A number with fixed decimals and the language's separators, thousands grouped ("1.234,5" / "1,234.5"). */
export function formatNumber(value, digits, lang) {
  return new Intl.NumberFormat(lang, {minimumFractionDigits: digits, maximumFractionDigits: digits,
    useGrouping: "always"}).format(value);
}

/** Milliseconds with one decimal: "1.234,5 ms"; "—" for none. */
export function formatMs(ms, lang) {
  return ms === null || ms === undefined ? "—" : `${formatNumber(ms, 1, lang)} ms`;
}

/** A moment relative to the episode's origin: "+160,0 ms" under a second, "+1,250 s" beyond, "−" before it. */
export function relativeTime(at, origin, lang) {
  const ms = (at - origin) * 1000;
  const sign = ms < -0.05 ? "−" : "+";
  const size = Math.abs(ms);
  return size < 1000 ? `${sign}${formatNumber(size, 1, lang)} ms` : `${sign}${formatNumber(size / 1000, 3, lang)} s`;
}

/** The moment the episode's times are told from: the fault becoming active, else the window's start. */
export function origin(doc) {
  return doc.fault.activated_at ?? doc.window.start;
}

/** A lane as drawn: its data when it was recorded, null when it was not (left out, or `recorded: false`). */
export function recordedLane(doc, name) {
  const lane = (doc.lanes || {})[name];
  return lane && lane.recorded ? lane : null;
}

function add(steps, at, lane, kind, data = {}, row = lane) {
  if (at !== null && at !== undefined) steps.push({at, lane, kind, row, ...data});
}

/** Every event of one episode as a step, in time order (ties in lane order): the fault's events, each health check,
 * each detector's threshold crossings and would-be OFF, the monitor's changes, the voter's buckets, the way back, and
 * TTD and TTR where they end (or begin, when they never ended). `row` names the row of the drawing it sits on. */
export function episodeSteps(doc) {
  const steps = [];
  for (const e of (recordedLane(doc, "fault") || {events: []}).events) add(steps, e.at, "fault", e.event);
  for (const [i, c] of (recordedLane(doc, "checks") || {items: []}).items.entries()) {
    add(steps, c.at, "checks", c.outcome, {index: i});
  }
  for (const [d, det] of (recordedLane(doc, "detectors") || {items: []}).items.entries()) {
    const offSeries = det.series.findIndex((s) => s.crossed_at !== null && s.crossed_at === det.off_at);
    add(steps, det.off_at, "detectors", "off", {detector: d, series: Math.max(0, offSeries)}, `detector-${d}-${Math.max(0, offSeries)}`);
    det.series.forEach((s, i) => {
      if (i !== offSeries) add(steps, s.crossed_at, "detectors", "crossed", {detector: d, series: i}, `detector-${d}-${i}`);
    });
  }
  for (const [i, tr] of (recordedLane(doc, "monitor") || {transitions: []}).transitions.entries()) {
    add(steps, tr.at, "monitor", tr.status, {index: i});
  }
  for (const [i, b] of (recordedLane(doc, "voter") || {buckets: []}).buckets.entries()) {
    add(steps, b.start, "voter", "bucket", {index: i});
  }
  for (const e of (recordedLane(doc, "recovery") || {events: []}).events) add(steps, e.at, "recovery", e.event);
  for (const name of ["ttd", "ttr"]) {
    const span = doc[name];
    if (span) add(steps, span.end ? span.end.at : span.start.at, "spans", name, {}, name);
  }
  const order = (s) => LANES.indexOf(s.lane);
  return steps.map((s, i) => [s, i]).sort(([a, i], [b, j]) => a.at - b.at || order(a) - order(b) || i - j)
    .map(([s]) => s);
}

/** The step index after a key: →/← one step, Home/End the first/last; from none (-1), → and ← start at an end.
 * null for a key the timeline does not take. */
export function moveStep(index, key, count) {
  if (count <= 0) return key in KEYS || key === "Home" || key === "End" ? -1 : null;
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  if (!(key in KEYS)) return null;
  if (index < 0) return KEYS[key] > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, index + KEYS[key]));
}

const REASONS = {detector: "timeline.reason.detector", healthy: "timeline.reason.healthy",
  process_exit: "timeline.reason.process_exit", wrong_values: "timeline.reason.wrong_values",
  stale: "timeline.reason.stale", lagging: "timeline.reason.lagging"};

function reasonText(tr, words, lang) {
  const p = tr.params || {};
  const fields = {detector: p.detector, kind: p.kind, seq: p.seq, text: tr.reason ?? "",
    behind: p.behind_ms === undefined ? "—" : formatMs(p.behind_ms, lang)};
  return tr.code in REASONS ? say(words, REASONS[tr.code], fields) : say(words, "timeline.reason.recorded", fields);
}

function valueText(series, at, lang) {
  const point = [...series.points].reverse().find(([t]) => t <= at);
  const value = point ? point[1] : null;
  if (value === null) return series.measure === "phi" ? "∞" : "—";
  return formatNumber(value, DIGITS[series.measure], lang);
}

function detectorText(step, doc, words, lang) {
  const det = doc.lanes.detectors.items[step.detector];
  const series = det.series[step.series];
  const crossed = series && series.crossed_at !== null ? say(words, series.above ? "timeline.detector.reached"
    : "timeline.detector.fell", {detector: det.name, measure: say(words, `timeline.measure.${series.measure}`),
    value: valueText(series, series.crossed_at, lang), threshold: formatNumber(series.threshold,
      DIGITS[series.measure], lang)}) : null;
  if (step.kind === "crossed") return crossed;
  const off = det.ttd_ms === null || det.ttd_ms === undefined
    ? say(words, "timeline.detector.off_plain", {detector: det.name})
    : say(words, "timeline.detector.off", {detector: det.name, ms: formatMs(det.ttd_ms, lang)});
  return crossed ? `${off}: ${crossed}` : off;
}

function voterText(bucket, doc, words, lang) {
  const parts = VOTER_OUTCOMES.filter((k) => bucket[k]).map((k) => say(words, `timeline.voter.part.${k}`,
    {n: formatNumber(bucket[k], 0, lang)}));
  return say(words, "timeline.voter.bucket", {ms: formatMs(doc.lanes.voter.bucket_ms, lang), parts: parts.join(", ")});
}

function checkText(check, lane, words, lang) {
  return say(words, `timeline.check.${check.outcome}`, {ms: formatMs(check.latency_ms, lang), kind: check.kind,
    limit: formatMs(check.outcome === "slow" ? lane.slow_ms : lane.timeout_ms, lang)});
}

function spanText(span, name, words, lang) {
  if (!span.end) return say(words, `timeline.span.${name}_open`);
  return say(words, `timeline.span.${name}`, {ms: formatMs(span.ms, lang)});
}

/** One step's sentence without its time. */
export function stepSentence(step, doc, words, lang) {
  const kind = doc.fault.kind ?? say(words, "timeline.no_fault");
  switch (step.lane) {
    case "fault":
      return say(words, `timeline.event.${step.kind}`, {kind, replica: doc.replica});
    case "checks":
      return checkText(doc.lanes.checks.items[step.index], doc.lanes.checks, words, lang);
    case "detectors":
      return detectorText(step, doc, words, lang);
    case "monitor": {
      const tr = doc.lanes.monitor.transitions[step.index];
      return say(words, "timeline.monitor", {replica: doc.replica, status: tr.status, reason: reasonText(tr, words, lang)});
    }
    case "voter":
      return voterText(doc.lanes.voter.buckets[step.index], doc, words, lang);
    case "recovery":
      return say(words, step.kind === "process_exit" ? "timeline.event.process_exit" : `timeline.recovery.${step.kind}`);
    default:
      return spanText(doc[step.kind], step.kind, words, lang);
  }
}

/** One step's text as it is announced and shown on hover: its time from the origin, then its sentence. */
export function stepText(step, doc, words, lang) {
  return say(words, "timeline.step", {time: relativeTime(step.at, origin(doc), lang),
    text: stepSentence(step, doc, words, lang)});
}

/** TTD or TTR as the span's label: "TTD 160,0 ms", or "TTD: not detected". */
export function spanLabel(doc, name, words, lang) {
  const span = doc[name];
  if (!span) return null;
  return span.end ? say(words, SPAN_LABELS[name], {ms: formatMs(span.ms, lang)}) : say(words, `timeline.span.${name}_open`);
}
