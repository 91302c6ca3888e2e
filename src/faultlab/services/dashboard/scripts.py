"""The pages' JavaScript: live updates over server-sent events, Plotly charts, operator controls, the reports list."""

from __future__ import annotations

COMMON_JS = r"""
"use strict";
const $ = (sel) => document.querySelector(sel);
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;"}[c]));
}
function num(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
}
function clock(t) {  // UNIX seconds -> local HH:MM:SS.mmm
  if (!t) return "—";
  const d = new Date(t * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}
function plotTime(t) {
  // UNIX seconds -> the number Plotly's date axis reads as this moment in local time (it treats numbers as UTC
  // milliseconds, so the local offset is added). Numbers, not date strings: nothing to parse on every redraw.
  return t * 1000 - TZ_OFFSET_MS;
}
const TZ_OFFSET_MS = new Date().getTimezoneOffset() * 60000;
function ago(t, now) {
  if (!t) return "—";
  const ms = Math.max(0, (now - t) * 1000);
  return ms < 1000 ? `${ms.toFixed(0)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}
"""

DASHBOARD_JS = r"""
"use strict";
const TOKEN_KEY = "faultlab-admin-token";
const WINDOW_S = 300;          // charts show the last five minutes
const MIN_SPAN_S = 60;
const CHART_EVERY_MS = 2500;   // each chart is redrawn about every 2.5 s (plotly is costly); cards on every update
const VOTING_EVERY_MS = 1000;  // the voting table at most once a second
const REPLICA_COLORS = ["#2d5bd7", "#c2410c", "#7c3aed", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#334155",
  "#9f1239"];

const live = {
  updates: [],            // performance.now() of every update applied to the page (tests read the gaps)
  received: [],           // [performance.now(), server time] of every tick: tells a late server from a busy page
  drawMs: [],             // how long each chart redraw took
  points: [], episodes: [], instances: [], lastChartAt: 0, chartsReady: false, drawPending: false, nextChart: 0,
  chartEveryMs: CHART_EVERY_MS, votingAt: -Infinity,
  serverAt: 0, replicas: [],
};
window.faultlabDashboard = live;

// ---- cards, services, voting, failures, events ---------------------------------------------------------------

function renderCards(instances, now) {
  if (!instances || !instances.length) return;
  live.instances = instances;
  const root = $("#cards");
  for (const inst of instances) {
    let card = root.querySelector(`[data-replica="${inst.replica}"]`);
    if (!card) {
      card = document.createElement("div");
      card.className = "card";
      card.dataset.replica = inst.replica;
      card.id = `card-${inst.replica}`;
      root.appendChild(card);
      [...root.children].sort((a, b) => a.dataset.replica - b.dataset.replica).forEach((c) => root.appendChild(c));
    }
    const faults = inst.faults && inst.faults.length ? inst.faults.join(", ") : (inst.open_fault || "none");
    const faulty = (inst.faults && inst.faults.length) || inst.open_fault;
    // shadow detectors that disagree with an ON (they run on the same evidence, for comparison)
    const dissent = inst.monitor_status === "ON" ? (inst.shadow_off || []).filter((d) => d !== inst.detector) : [];
    card.dataset.status = inst.status;
    card.innerHTML = `<div class="top"><span class="name">inventory-${inst.replica}</span>
      <span class="badge" data-status="${esc(inst.status)}">${esc(inst.status)}</span></div>
      <dl><dt>since</dt><dd>${clock(inst.since)}${inst.reason ? " · " + esc(inst.reason) : ""}</dd>
      <dt>last check</dt><dd>${clock(inst.last_check)} (${ago(inst.last_check, now)})</dd>
      <dt>applied position</dt><dd>event ${esc(inst.applied_seq ?? "—")} · offset ${esc(inst.offset ?? "—")}
        of ${esc(inst.log_end ?? "—")} (lag ${esc(inst.lag ?? "—")})</dd>
      <dt>active fault</dt><dd class="${faulty ? "fault" : ""}">${esc(faults)}</dd>
      <dt>pid</dt><dd>${esc(inst.pid ?? "—")}</dd>
      <dt>detector</dt><dd>${esc(inst.detector ?? "—")}${dissent.length ? ` · ${esc(dissent.join(", "))} says OFF` : ""}
        ${inst.recent_wrong ? ` · <span class="fault">voter: ${inst.recent_wrong} wrong answers in 3 s</span>` : ""}
        </dd></dl>`;
  }
}

function renderServices(services) {
  if (!services) return;
  $("#services").innerHTML = services.map((s) => `<div class="svc" data-service="${esc(s.name)}">
    <span><span class="dot" data-status="${esc(s.status)}"></span><b>${esc(s.name)}</b></span>
    <span>${esc(s.status)} · ${num(s.rtt_ms, 0)} ms</span></div>`).join("");
}

function renderVoting(v) {
  const root = $("#voting");
  if (!v) { root.innerHTML = '<span class="muted">voter not answering</span>'; return; }
  const lat = v.latency_ms || {};
  const outliers = v.outliers_by_replica || {};
  const most = Math.max(1, ...Object.values(outliers));
  const rows = Object.entries(v.replicas || {}).map(([r, s]) => {
    const failures = Object.values(s.failures || {}).reduce((a, b) => a + b, 0);
    const out = outliers[r] || 0;
    return `<tr><td>inventory-${esc(r)}</td><td>${out} <span class="bar" style="width:${Math.round(80 * out / most)}px">
      </span></td><td>${s.wrong}</td><td>${s.slow}</td><td>${failures}</td><td>${s.agreed}</td><td>${s.behind}</td>
      <td>${num(s.median_latency_ms, 2)}</td></tr>`;
  }).join("");
  root.innerHTML = `<div class="stat"><div class="v" id="quorum-rate">${num(v.quorum_rate, 2)}%</div>
      <div class="k">quorum rate</div></div>
    <div class="stat"><div class="v">${v.total_votes}</div><div class="k">voted reads</div></div>
    <div class="stat"><div class="v">${v.quorum_not_reached}</div><div class="k">quorum not reached</div></div>
    <div class="stat"><div class="v">${v.votes_needed}/${v.fan_out}</div><div class="k">votes needed / fan-out</div></div>
    <div class="stat"><div class="v">${num(lat.p50, 1)} / ${num(lat.p99, 1)}</div><div class="k">vote p50 / p99 ms</div></div>
    <table class="table" id="outliers"><thead><tr><th>replica</th><th>outliers</th><th>wrong</th><th>slow</th>
      <th>failed</th><th>agreed</th><th>behind</th><th>median ms</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderFailures(failures) {
  if (!failures) return;
  live.episodes = failures;
  const rows = failures.slice(-30).reverse().map((e) => `<tr data-replica="${e.replica}">
    <td>inventory-${e.replica}</td><td>${esc(e.fault_kind ?? "—")}</td><td>${clock(e.activated_at)}</td>
    <td>${clock(e.detected_at)}</td><td>${esc(e.detected_by ?? "—")}</td><td>${num(e.ttd_ms, 1)}</td>
    <td>${clock(e.cleared_at)}</td><td>${clock(e.recovered_at)}</td><td>${num(e.ttr_ms, 1)}</td></tr>`);
  $("#failures tbody").innerHTML = rows.join("") || '<tr><td colspan="9" class="muted">no fault episodes yet</td></tr>';
}

function describeEvent(e) {
  if (e.type === "state") return `replica ${e.replica} → <b>${esc(e.status)}</b> (${esc(e.reason)}, ${esc(e.source)})`;
  if (e.type === "episode") {
    const extra = e.phase === "detected" ? ` TTD ${num(e.ttd_ms, 1)} ms` : e.phase === "recovered" ?
      ` TTR ${num(e.ttr_ms, 1)} ms` : "";
    return `replica ${e.replica} fault ${esc(e.fault_kind ?? "")} <b>${esc(e.phase)}</b>${extra}`;
  }
  return esc(JSON.stringify(e).slice(0, 160));
}

// An episode event carries the whole episode; its moment is the one its phase names.
const EPISODE_TIME = {opened: "activated_at", detected: "detected_at", cleared: "cleared_at", recovered: "recovered_at"};

function addEvents(events) {
  const list = $("#events");
  for (const e of events) {
    const li = document.createElement("li");
    const at = e.at || e[EPISODE_TIME[e.phase]] || e.detected_at || e.activated_at;
    li.innerHTML = `<span class="t">${clock(at)}</span>${describeEvent(e)}`;
    list.insertBefore(li, list.firstChild);
  }
  while (list.children.length > 100) list.removeChild(list.lastChild);
}

function renderExperiment(x) {
  if (!x) return;
  const key = `${x.state}|${x.exit_code}|${x.lines}|${x.running}`;
  if (key === live.experimentKey) return;
  live.experimentKey = key;
  const state = $("#experiment-state");
  const code = x.exit_code === null || x.exit_code === undefined ? "" : ` (exit ${x.exit_code})`;
  state.textContent = `${x.state}${code}${x.running ? ` · pid ${x.pid} · ${x.lines} lines` : ""}`;
  state.dataset.state = x.state;
  $("#experiment-start").disabled = x.running;
  $("#experiment-stop").disabled = !x.running;
  const out = $("#experiment-output");
  const text = (x.output || []).join("\n");
  if (out.textContent !== text) { out.textContent = text; out.scrollTop = out.scrollHeight; }
}

// ---- charts -----------------------------------------------------------------------------------------------

const CHARTS = {
  "chart-voted-latency": {y: "ms", traces: [["p50", (p) => p.voted && p.voted.p50], ["p95", (p) => p.voted && p.voted.p95],
    ["p99", (p) => p.voted && p.voted.p99]]},
  "chart-orders-latency": {y: "ms", traces: [["p50", (p) => p.orders && p.orders.p50],
    ["p95", (p) => p.orders && p.orders.p95], ["p99", (p) => p.orders && p.orders.p99]]},
  "chart-throughput": {y: "req/s", traces: [["voted reads", (p) => p.voted && p.voted.rps],
    ["orders", (p) => p.orders && p.orders.rps]]},
  "chart-success": {y: "%", range: [0, 105], traces: [["voted reads", (p) => p.voted && p.voted.success_rate],
    ["orders", (p) => p.orders && p.orders.success_rate]]},
  "chart-failures": {y: "failed/s", y2: "replicas not ON", traces: [
    ["voted reads failed/s", (p) => p.voted && p.voted.failed_per_s],
    ["orders failed/s", (p) => p.orders && p.orders.failed_per_s],
    ["replicas not ON", (p) => p.down, {yaxis: "y2", line: {shape: "hv", dash: "dot", color: "#d62f2f"}}]]},
};

function traceData(spec, points) {
  const x = points.map((p) => plotTime(p.t));
  return spec.traces.map(([name, get, extra]) => ({
    x, y: points.map((p) => { const v = get(p); return v === undefined ? null : v; }), name, type: "scatter",
    mode: "lines", connectgaps: false, ...(extra || {})}));
}

function layout(spec) {
  const l = {margin: {l: 50, r: spec.y2 ? 50 : 12, t: 8, b: 30}, height: 240, showlegend: true,
    legend: {orientation: "h", y: 1.12, x: 0}, xaxis: {type: "date", nticks: 7},
    yaxis: {title: {text: spec.y}, rangemode: "tozero", ...(spec.range ? {range: spec.range} : {})},
    shapes: [], annotations: [], uirevision: "keep"};
  if (spec.y2) l.yaxis2 = {title: {text: spec.y2}, overlaying: "y", side: "right", rangemode: "tozero", dtick: 1};
  return l;
}

function faultMarks(now, from) {
  // Shaded fault periods (activation to recovery) and dashed lines at detection (red) and recovery (green).
  // An episode without recovery is shaded up to now only while it is the replica's open episode; one the monitor
  // closed unrecovered (superseded by the next fault) keeps only its detection line.
  const shapes = [], annotations = [];
  const open = new Map(live.instances.map((i) => [i.replica, i.open_episode_start]));
  let labelled = 0;
  for (const e of live.episodes) {
    const start = e.activated_at || e.detected_at;
    if (!start) continue;
    const isOpen = !e.recovered_at && open.get(e.replica) === start;
    const end = e.recovered_at || (isOpen ? now : Math.max(start, e.cleared_at || 0, e.detected_at || 0));
    if (end < from) continue;
    const color = REPLICA_COLORS[(e.replica - 1) % REPLICA_COLORS.length];
    if (e.recovered_at || isOpen) {
      shapes.push({type: "rect", xref: "x", yref: "paper", x0: plotTime(start), x1: plotTime(end), y0: 0, y1: 1,
        fillcolor: color, opacity: 0.14, line: {width: 0}, layer: "below"});
      const nearEnd = start > now - (now - from) * 0.15;  // label to the left of a period that starts at the edge
      annotations.push({x: plotTime(Math.max(start, from)), y: 1 - 0.09 * (labelled++ % 4), xref: "x",
        yref: "paper", text: `R${e.replica} ${e.fault_kind || "fault"}`,
        showarrow: false, xanchor: nearEnd ? "right" : "left", yanchor: "top", font: {size: 11, color}});
    }
    if (e.detected_at) shapes.push({type: "line", xref: "x", yref: "paper", x0: plotTime(e.detected_at),
      x1: plotTime(e.detected_at), y0: 0, y1: 1, line: {color: "#d62f2f", width: 1.5, dash: "dash"}});
    if (e.recovered_at) shapes.push({type: "line", xref: "x", yref: "paper", x0: plotTime(e.recovered_at),
      x1: plotTime(e.recovered_at), y0: 0, y1: 1, line: {color: "#1a9e4b", width: 1.5, dash: "dash"}});
  }
  return {shapes, annotations};
}

function drawChart(id, marks, range, full) {
  const spec = CHARTS[id];
  const el = document.getElementById(id);
  const l = layout(spec);
  l.shapes = marks.shapes;
  l.annotations = marks.annotations;
  l.xaxis.range = range;
  const started = performance.now();
  if (full || !el.data) Plotly.newPlot(el, traceData(spec, live.points), l, {displaylogo: false, responsive: true});
  else Plotly.react(el, traceData(spec, live.points), l);
  live.drawMs.push(performance.now() - started);
  if (live.drawMs.length > 500) live.drawMs.splice(0, 100);
}

function chartWindow() {
  const now = live.serverAt || Date.now() / 1000;
  live.points = live.points.filter((p) => p.t >= now - WINDOW_S);
  // The last five minutes, or less while the history is shorter (never under a minute).
  const first = live.points.length ? live.points[0].t : now;
  const from = Math.min(now - MIN_SPAN_S, Math.max(first, now - WINDOW_S));
  return {marks: faultMarks(now, from), range: [plotTime(from), plotTime(now)]};
}

function drawCharts() {
  // Every chart at once: when the page (re)connects.
  if (typeof Plotly === "undefined") return;
  const {marks, range} = chartWindow();
  Object.keys(CHARTS).forEach((id) => drawChart(id, marks, range, true));
  live.chartsReady = true;
  live.lastChartAt = performance.now();
}

function drawNextChart() {
  // Live redraws go one chart per task, in turn, spaced by five times the last redraw's cost (at least
  // CHART_EVERY_MS / 5): each chart is fresh within about 2.5 s, and an update never waits behind five redraws.
  const ids = Object.keys(CHARTS);
  const id = ids[live.nextChart % ids.length];
  live.nextChart += 1;
  const {marks, range} = chartWindow();
  const started = performance.now();
  drawChart(id, marks, range, false);
  const spent = performance.now() - started;
  // at most a sixth of the page's time goes to charts, whatever the machine's load
  live.chartEveryMs = Math.min(6000, Math.max(CHART_EVERY_MS / ids.length, 5 * spent));
  live.lastChartAt = performance.now();
  live.drawPending = false;
}

function scheduleChart() {
  if (!live.chartsReady || live.drawPending || performance.now() - live.lastChartAt < live.chartEveryMs) return;
  live.drawPending = true;
  setTimeout(drawNextChart, 0);  // after the update that triggered it has been applied
}

function addPoint(point) {
  live.points.push(point);
}

// ---- live stream ------------------------------------------------------------------------------------------

function markUpdate(at) {
  live.updates.push(performance.now());
  if (live.updates.length > 4000) live.updates.splice(0, 1000);
  if (at) live.serverAt = at;
  $("#updated").textContent = clock(at || Date.now() / 1000);
}

function applyTick(d) {
  live.received.push([performance.now(), d.at]);
  if (live.received.length > 4000) live.received.splice(0, 1000);
  renderCards(d.instances, d.at);
  if (performance.now() - live.votingAt >= VOTING_EVERY_MS) { renderVoting(d.voting); live.votingAt = performance.now(); }
  renderExperiment(d.experiment);
  if (d.point) addPoint(d.point);
  markUpdate(d.at);
  scheduleChart();
}

function connect() {
  const conn = $("#conn");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = "live"; });
  source.addEventListener("error", () => { conn.dataset.state = "lost"; conn.textContent = "reconnecting…"; });
  source.addEventListener("snapshot", (m) => {
    const d = JSON.parse(m.data);
    live.replicas = d.replicas;
    fillReplicaSelect(d.replicas);
    live.points = d.series || [];
    renderFailures(d.failures);
    renderServices(d.services);
    $("#events").innerHTML = "";
    addEvents(d.events || []);
    applyTick({...d, point: null});
    drawCharts();
  });
  source.addEventListener("tick", (m) => applyTick(JSON.parse(m.data)));
  source.addEventListener("event", (m) => {
    const d = JSON.parse(m.data);
    renderCards(d.instances, d.at);
    addEvents([d.event]);
    markUpdate(d.at);
  });
  source.addEventListener("health", (m) => {
    const d = JSON.parse(m.data);
    renderServices(d.services);
    renderFailures(d.failures);
  });
}

// ---- operator controls (the token stays in this tab's sessionStorage and goes only to this dashboard) --------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function operatorCall(method, url, body) {
  const headers = {"Authorization": `Bearer ${token()}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin", cache: "no-store"});
  let data = {};
  try { data = await resp.json(); } catch (err) { data = {error: `HTTP ${resp.status}`}; }
  return {ok: resp.ok, status: resp.status, data};
}

function showResult(text, ok) {
  const el = $("#fault-result");
  el.textContent = text;
  el.className = `result ${ok ? "ok" : "err"}`;
}

function showTokenState() {
  $("#token-state").textContent = token() ? "token set for this tab" : "no token (kept in this tab only)";
}

function fillReplicaSelect(replicas) {
  const select = $("#fault-replica");
  if (select.options.length === replicas.length) return;
  select.innerHTML = replicas.map((r) => `<option value="${r}">inventory-${r}</option>`).join("");
}

function showParams() {
  const kind = $("#fault-kind").value;
  document.querySelectorAll(".param").forEach((el) => { el.hidden = el.dataset.for !== kind; });
}

function setupOperator() {
  showTokenState();
  showParams();
  $("#fault-kind").addEventListener("change", showParams);
  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = $("#token").value.trim();
    $("#token").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    const r = await operatorCall("GET", "/api/auth");
    if (!r.ok) sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
    showResult(r.ok ? "token accepted" : `token refused: ${r.data.error}`, r.ok);
  });
  $("#forget-token").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showTokenState(); });
  $("#fault-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = $("#fault-kind").value;
    const body = {replica: Number($("#fault-replica").value), kind};
    if (kind === "latency") body.latency_ms = Number($("#fault-latency").value);
    if (kind === "intermittent") body.probability = Number($("#fault-probability").value);
    if (kind === "incorrect") body.product_id = $("#fault-product").value.trim();
    const r = await operatorCall("POST", "/api/faults", body);
    showResult(r.ok ? `${kind} injected on inventory-${body.replica}` : `not injected (${r.status}): ${r.data.error}`, r.ok);
  });
  $("#clear").addEventListener("click", async () => {
    const replica = $("#fault-replica").value;
    const r = await operatorCall("DELETE", `/api/faults?replica=${encodeURIComponent(replica)}`);
    const cleared = (r.data.cleared || []).map((f) => f.kind).join(", ") || "nothing active";
    showResult(r.ok ? `inventory-${replica}: cleared ${cleared}` : `not cleared (${r.status}): ${r.data.error}`, r.ok);
  });
  $("#experiment-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phases = $("#experiment-phases").value.trim();
    const r = await operatorCall("POST", "/api/experiment", phases ? {phases} : {});
    if (r.data.experiment) renderExperiment(r.data.experiment); else if (r.ok) renderExperiment(r.data);
    showResult(r.ok ? "experiment started" : `experiment not started (${r.status}): ${r.data.error}`, r.ok);
  });
  $("#experiment-stop").addEventListener("click", async () => {
    const r = await operatorCall("DELETE", "/api/experiment");
    if (r.data.experiment) renderExperiment(r.data.experiment); else if (r.ok) renderExperiment(r.data);
    showResult(r.ok ? "experiment interrupted" : `not stopped (${r.status}): ${r.data.error}`, r.ok);
  });
}

setupOperator();
connect();
setInterval(scheduleChart, CHART_EVERY_MS);  // keeps the time axis moving while no update comes (stream lost)
"""

REPORTS_JS = r"""
"use strict";
async function getJSON(url) {
  const resp = await fetch(url, {cache: "no-store"});
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function verdict(valid) {
  if (valid === true) return '<span class="ok-text">valid</span>';
  if (valid === false) return '<span class="bad-text">missed</span>';
  return '<span class="muted">—</span>';
}

async function showRun(name) {
  document.querySelectorAll("#runs tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.run === name));
  const run = await getJSON(`/api/runs/${encodeURIComponent(name)}`);
  $("#run-detail").hidden = false;
  $("#run-name").textContent = run.name + (run.latest ? " (latest)" : "");
  const base = `/runs/${encodeURIComponent(run.name)}`;
  $("#run-html-link").href = `${base}/report.html`;
  $("#run-json-link").href = `${base}/report.json`;
  $("#run-html-link").hidden = !run.has_report_html;
  $("#run-json-link").hidden = !run.has_report_json;
  const missed = (run.verdict && run.verdict.missed) || [];
  $("#run-verdict").innerHTML = `verdict: ${verdict(run.valid)}` +
    (missed.length ? ` — ${missed.map(esc).join("; ")}` : "") + (run.problem ? ` — ${esc(run.problem)}` : "");
  $("#run-results tbody").innerHTML = run.results.map((r) => `<tr><td>${esc(r.phase)}</td><td>${esc(r.repetition ?? "")}</td>
    <td>${num(r.ttd_ms, 1)}</td><td>${num(r.ttr_ms, 1)}</td><td>${num(r.rps, 1)}</td><td>${num(r.p50_ms, 1)}</td>
    <td>${num(r.p95_ms, 1)}</td><td>${num(r.p99_ms, 1)}</td><td>${num(r.success_rate, 2)}</td>
    <td>${r.passed === true ? "yes" : r.passed === false ? "no" : "—"}</td><td>${esc((r.missed || []).join("; "))}</td></tr>`)
    .join("") || '<tr><td colspan="11" class="muted">no phase results in report.json</td></tr>';
  const frame = $("#run-frame");
  frame.hidden = !run.has_report_html;
  if (run.has_report_html) frame.src = `${base}/report.html`;
  history.replaceState(null, "", `#run=${encodeURIComponent(run.name)}`);
}

async function loadRuns() {
  const data = await getJSON("/api/runs");
  $("#runs-dir").textContent = data.runs_dir;
  $("#no-runs").hidden = data.runs.length > 0;
  $("#runs tbody").innerHTML = data.runs.map((r) => {
    const s = r.summary || {};
    return `<tr data-run="${esc(r.name)}"><td>${esc(r.name)}${r.latest ? " <b>latest</b>" : ""}</td>
      <td>${esc(r.start_time ?? "—")}</td><td>${num(r.duration_s, 1)}</td><td>${esc((r.phases || []).join(", "))}</td>
      <td>${verdict(r.valid)}</td><td>${esc(s.successful_tests ?? "—")}/${esc(s.total_tests ?? "—")}</td>
      <td>${num(s.avg_ttd_ms, 1)}</td><td>${num(s.avg_ttr_ms, 1)}</td><td>${num(s.max_p95_ms, 1)}</td>
      <td>${num(s.min_success_rate, 2)}</td></tr>`;
  }).join("");
  document.querySelectorAll("#runs tbody tr").forEach((tr) => tr.addEventListener("click", () => showRun(tr.dataset.run)));
  const wanted = decodeURIComponent((location.hash.match(/run=([^&]+)/) || [])[1] || "");
  const pick = data.runs.find((r) => r.name === wanted) || data.runs.find((r) => r.latest) || data.runs[0];
  if (pick) await showRun(pick.name);
}

loadRuns().catch((err) => {
  $("#no-runs").hidden = false;
  $("#no-runs").textContent = `could not list runs: ${err.message}`;
});
"""
