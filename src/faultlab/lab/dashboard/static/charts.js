// The live charts as Plotly data: which series each chart shows, its layout, the fault marks and the time window.

import {plotTime} from "./common.js";
import {plotSeparators, t} from "./i18n.js";

export const WINDOW_S = 300;  // charts show the last five minutes
export const MIN_SPAN_S = 60;
export const REPLICA_COLORS = ["#2d5bd7", "#c2410c", "#7c3aed", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#334155",
  "#9f1239"];

// Trace names and axis titles are catalog keys (said in the page's language when drawn); p50/p95/p99 and units
// read the same in both languages.
export const CHARTS = {
  "chart-voted-latency": {y: "ms", traces: [["p50", (p) => p.voted && p.voted.p50], ["p95", (p) => p.voted && p.voted.p95],
    ["p99", (p) => p.voted && p.voted.p99]]},
  "chart-orders-latency": {y: "ms", traces: [["p50", (p) => p.orders && p.orders.p50],
    ["p95", (p) => p.orders && p.orders.p95], ["p99", (p) => p.orders && p.orders.p99]]},
  "chart-throughput": {y: "chart.axis.per_s", traces: [["chart.trace.voted_reads", (p) => p.voted && p.voted.rps],
    ["chart.trace.orders", (p) => p.orders && p.orders.rps]]},
  "chart-success": {y: "%", range: [0, 105], traces: [["chart.trace.voted_reads", (p) => p.voted && p.voted.success_rate],
    ["chart.trace.orders", (p) => p.orders && p.orders.success_rate]]},
  "chart-failures": {y: "chart.axis.failed", y2: "chart.trace.not_on", traces: [
    ["chart.trace.voted_failed", (p) => p.voted && p.voted.failed_per_s],
    ["chart.trace.orders_failed", (p) => p.orders && p.orders.failed_per_s],
    ["chart.trace.not_on", (p) => p.down, {yaxis: "y2", line: {shape: "hv", dash: "dot", color: "#d62f2f"}}]]},
};

/** One Plotly trace per series of the chart; a point without the value leaves a gap (null). */
export function traceData(spec, points, offsetMs) {
  const x = points.map((p) => plotTime(p.t, offsetMs));
  return spec.traces.map(([name, get, extra]) => ({
    x, y: points.map((p) => { const v = get(p); return v === undefined ? null : v; }), name: t(name), type: "scatter",
    mode: "lines", connectgaps: false, ...(extra || {})}));
}

/** The chart's layout: axes titles, the second y axis where it has one, room for the fault marks. */
export function layout(spec) {
  // ticks as times of day: no month names, which Plotly would write in English whatever the page's language
  // numbers on the axes and in the hover labels with the page language's separators
  const l = {margin: {l: 50, r: spec.y2 ? 50 : 12, t: 8, b: 30}, height: 240, showlegend: true,
    separators: plotSeparators(),
    legend: {orientation: "h", y: 1.12, x: 0}, xaxis: {type: "date", nticks: 7, tickformat: "%H:%M:%S"},
    yaxis: {title: {text: t(spec.y)}, rangemode: "tozero", ...(spec.range ? {range: spec.range} : {})},
    shapes: [], annotations: [], uirevision: "keep"};
  if (spec.y2) l.yaxis2 = {title: {text: t(spec.y2)}, overlaying: "y", side: "right", rangemode: "tozero", dtick: 1};
  return l;
}

/**
 * Shaded fault periods (activation to recovery) and dashed lines at detection (red) and recovery (green).
 * An episode without recovery is shaded up to now only while it is the replica's open episode; one the monitor
 * closed unrecovered (superseded by the next fault) keeps only its detection line.
 */
export function faultMarks(episodes, instances, now, from, offsetMs) {
  const shapes = [], annotations = [];
  const open = new Map(instances.map((i) => [i.replica, i.open_episode_start]));
  const x = (t) => plotTime(t, offsetMs);
  let labelled = 0;
  for (const e of episodes) {
    const start = e.activated_at || e.detected_at;
    if (!start) continue;
    const isOpen = !e.recovered_at && open.get(e.replica) === start;
    const end = e.recovered_at || (isOpen ? now : Math.max(start, e.cleared_at || 0, e.detected_at || 0));
    if (end < from) continue;
    const color = REPLICA_COLORS[(e.replica - 1) % REPLICA_COLORS.length];
    if (e.recovered_at || isOpen) {
      shapes.push({type: "rect", xref: "x", yref: "paper", x0: x(start), x1: x(end), y0: 0, y1: 1,
        fillcolor: color, opacity: 0.14, line: {width: 0}, layer: "below"});
      const nearEnd = start > now - (now - from) * 0.15;  // label to the left of a period that starts at the edge
      annotations.push({x: x(Math.max(start, from)), y: 1 - 0.09 * (labelled++ % 4), xref: "x",
        yref: "paper", text: `R${e.replica} ${e.fault_kind || t("chart.fault")}`,
        showarrow: false, xanchor: nearEnd ? "right" : "left", yanchor: "top", font: {size: 11, color}});
    }
    if (e.detected_at) shapes.push({type: "line", xref: "x", yref: "paper", x0: x(e.detected_at),
      x1: x(e.detected_at), y0: 0, y1: 1, line: {color: "#d62f2f", width: 1.5, dash: "dash"}});
    if (e.recovered_at) shapes.push({type: "line", xref: "x", yref: "paper", x0: x(e.recovered_at),
      x1: x(e.recovered_at), y0: 0, y1: 1, line: {color: "#1a9e4b", width: 1.5, dash: "dash"}});
  }
  return {shapes, annotations};
}

/** The points still inside the window and the span to show: the last five minutes, or less while the history is
 * shorter (never under a minute). */
export function chartWindow(points, now) {
  const kept = points.filter((p) => p.t >= now - WINDOW_S);
  const first = kept.length ? kept[0].t : now;
  const from = Math.min(now - MIN_SPAN_S, Math.max(first, now - WINDOW_S));
  return {points: kept, from};
}
