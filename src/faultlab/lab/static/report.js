// report.html's charts, drawn from the page's JSON block (the chart parts of report.json). This file is inlined into
// the page as a module after Plotly's bundle; the functions are exported for the unit tests (tests/js/lab/).

export const PHASE_COLOURS = {crash: "#d62728", latency: "#ff7f0e", intermittent: "#9467bd", incorrect: "#8c564b",
  "two-down": "#e377c2", baseline: "#2ca02c"};

const LATENCY_TRACES = [["p50_ms", "latency p50 (ms)", "#1f77b4"], ["p95_ms", "latency p95 (ms)", "#ff7f0e"],
  ["p99_ms", "latency p99 (ms)", "#d62728"]];
// The monitor's moments marked on the load chart: a vertical line and a marker on the success-rate panel.
const MOMENTS = [
  {key: "detected", dash: "dash", colour: "#b3261e", symbol: "triangle-down", name: "detected (monitor event)",
    label: (period) => `${period.phase} #${period.repetition} detected`},
  {key: "recovered", dash: "dot", colour: "#137333", symbol: "triangle-up", name: "recovered (monitor event)",
    label: (period) => `${period.phase} #${period.repetition} recovered`},
];
const DISTRIBUTIONS = [
  {key: "ttd_ms", group: "TTD", colour: "#d62728", offset: -0.2, bars: "TTD median (ms)", dots: "TTD each repetition"},
  {key: "ttr_ms", group: "TTR", colour: "#1f77b4", offset: 0.2, bars: "TTR median (ms)", dots: "TTR each repetition"},
];

/** A UNIX time as a Plotly date string in UTC, to the millisecond ("2026-01-02 03:04:05.678"); null for none. */
export function plotDate(ts) {
  if (ts === null || ts === undefined) return null;
  const ms = Math.floor(Math.round(ts * 1e6) / 1000);  // nearest microsecond, then cut to the millisecond
  return new Date(ms).toISOString().slice(0, 23).replace("T", " ");
}

/** Shaded periods and marks: [injection, end of the fault] per phase run, its detection and recovery moments. */
export function faultPeriods(results) {
  return (results || []).filter((r) => r.injected_at !== null && r.injected_at !== undefined).map((r) => {
    const episodes = r.episodes || [];
    return {
      phase: r.phase, repetition: r.repetition, start: r.injected_at,
      end: r.fault_ended_at || r.ended_at || r.injected_at,
      detected: episodes.filter((e) => e.detected_at).map((e) => e.detected_at),
      recovered: episodes.filter((e) => e.recovered_at).map((e) => e.recovered_at),
    };
  });
}

function line(name, x, y, colour, yaxis, extra = {}) {
  return {x, y, name, mode: "lines", line: {color: colour, width: 1.5, ...extra}, yaxis};
}

/** Latency, throughput and success rate per second, fault periods shaded, detection and recovery marked. */
export function timeseriesFigure(data) {
  const points = data.timeseries || [];
  const xs = points.map((p) => plotDate(p.t + 0.5));
  const series = (key) => points.map((p) => p[key] ?? null);
  const traces = LATENCY_TRACES.map(([key, name, colour]) => line(name, xs, series(key), colour, "y"));
  traces.push(line("requests/s (intended)", xs, series("requests"), "#7f7f7f", "y2"));
  traces.push(line("successful/s", xs, series("ok"), "#2ca02c", "y2"));
  traces.push(line("success rate (%)", xs, series("success_rate"), "#17becf", "y3"));
  const reads = points.map((p) => (p.reads ? Number((100 * p.reads_ok / p.reads).toFixed(2)) : null));
  traces.push(line("voted reads success (%)", xs, reads, "#9467bd", "y3", {width: 1, dash: "dot"}));
  const shapes = [], annotations = [];
  const marks = Object.fromEntries(MOMENTS.map((m) => [m.key, {x: [], text: []}]));
  for (const period of faultPeriods(data.results)) {
    const colour = PHASE_COLOURS[period.phase] || "#999999";
    shapes.push({type: "rect", xref: "x", yref: "paper", x0: plotDate(period.start),
      x1: plotDate(Math.max(period.end, period.start + 0.05)), y0: 0, y1: 1, fillcolor: colour, opacity: 0.13,
      line: {width: 0}, layer: "below"});
    annotations.push({x: plotDate(period.start), y: 1.0, xref: "x", yref: "paper", showarrow: false,
      text: `${period.phase} #${period.repetition}`, xanchor: "left", yanchor: "bottom",
      font: {size: 10, color: colour}, textangle: -30});
    for (const moment of MOMENTS) {
      for (const at of period[moment.key]) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: plotDate(at), x1: plotDate(at), y0: 0, y1: 1,
          line: {color: moment.colour, width: 1.2, dash: moment.dash}});
        marks[moment.key].x.push(plotDate(at));
        marks[moment.key].text.push(moment.label(period));
      }
    }
  }
  for (const moment of MOMENTS) {
    const {x, text} = marks[moment.key];
    traces.push({x, y: x.map(() => 100.0), text, name: moment.name, mode: "markers", yaxis: "y3",
      marker: {symbol: moment.symbol, size: 9, color: moment.colour}, hoverinfo: "text+x"});
  }
  const layout = {
    height: 820, margin: {t: 70, l: 70, r: 20, b: 50}, hovermode: "x unified",
    legend: {orientation: "h", y: -0.08},
    xaxis: {type: "date", anchor: "y3", title: {text: "time (UTC), by intended send time"}},
    yaxis: {domain: [0.68, 1.0], title: {text: "latency ms"}, rangemode: "tozero"},
    yaxis2: {domain: [0.36, 0.62], title: {text: "requests/s"}, rangemode: "tozero"},
    yaxis3: {domain: [0.0, 0.30], title: {text: "success %"}, range: [0, 105]},
    shapes, annotations,
  };
  return {data: traces, layout};
}

/** Median TTD and TTR per phase (bars, min–max error bars) with each repetition as a dot, thresholds dashed. */
export function ttdTtrFigure(data) {
  const phases = Object.fromEntries(Object.entries(data.phases || {})
    .filter(([, st]) => st.ttd_ms.n || st.ttr_ms.n));
  const names = Object.keys(phases);
  const traces = [];
  for (const dist of DISTRIBUTIONS) {
    const med = names.map((n) => phases[n][dist.key].median);
    traces.push({type: "bar", x: names, y: med, name: dist.bars, marker: {color: dist.colour}, opacity: 0.75,
      offsetgroup: dist.group,
      error_y: {type: "data", symmetric: false,
        array: names.map((n, i) => (phases[n][dist.key].max || 0) - (med[i] || 0)),
        arrayminus: names.map((n, i) => (med[i] || 0) - (phases[n][dist.key].min || 0))}});
    const xs = [], ys = [];
    names.forEach((n, i) => {
      for (const v of phases[n][dist.key].values) {
        if (v !== null && v !== undefined) {
          xs.push(i + dist.offset);
          ys.push(v);
        }
      }
    });
    traces.push({type: "scatter", mode: "markers", x: xs, y: ys, name: dist.dots,
      marker: {color: "#222", size: 6, symbol: "circle-open"}, xaxis: "x2"});
  }
  const thresholds = data.thresholds || {};
  const shapes = [["max_ttd_ms", "#d62728"], ["max_ttr_ms", "#1f77b4"]].filter(([key]) => thresholds[key])
    .map(([key, colour]) => ({type: "line", xref: "paper", x0: 0, x1: 1, y0: thresholds[key], y1: thresholds[key],
      line: {color: colour, dash: "dash", width: 1}}));
  const layout = {height: 420, barmode: "group", margin: {t: 30, l: 70, r: 20, b: 60},
    yaxis: {title: {text: "ms"}, rangemode: "tozero"},
    xaxis: {type: "category"},
    xaxis2: {overlaying: "x", range: [-0.5, names.length - 0.5], visible: false},
    shapes, legend: {orientation: "h", y: -0.15}};
  return {data: traces, layout};
}

/** Both charts into their places on the page. */
export function drawReport(data) {
  const figures = {timeseries: timeseriesFigure(data), ttdttr: ttdTtrFigure(data)};
  for (const [id, fig] of Object.entries(figures)) {
    Plotly.newPlot(id, fig.data, fig.layout, {responsive: true, displaylogo: false});
  }
}

const block = typeof document === "undefined" ? null : document.getElementById("report-data");
if (block) drawReport(JSON.parse(block.textContent));
