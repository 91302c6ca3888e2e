// The live page: server-sent events into cards, services, voting, failures, events and Plotly charts.

import {$, clock, plotTime} from "./common.js";
import {CHARTS, chartWindow, faultMarks, layout, traceData} from "./charts.js";
import {setupLanguageSwitch, t} from "./i18n.js";
import {refreshTimelines} from "./live_timelines.js";
import {renderTimelines} from "./timeline.js";
import {fillReplicaSelect, setupOperator} from "./operator.js";
import {
  cardHtml, describeEvent, eventTime, experimentView, failureRowsHtml, servicesHtml, votingHtml,
} from "./views.js";

const CHART_EVERY_MS = 2500;   // each chart is redrawn about every 2.5 s (plotly is costly); cards on every update
const VOTING_EVERY_MS = 1000;  // the voting table at most once a second
const MAX_EVENTS = 100;

const live = {
  updates: [],            // performance.now() of every update applied to the page (tests read the gaps)
  received: [],           // [performance.now(), server time] of every tick: tells a late server from a busy page
  drawMs: [],             // how long each chart redraw took
  points: [], episodes: [], instances: [], lastChartAt: 0, chartsReady: false, drawPending: false, nextChart: 0,
  chartEveryMs: CHART_EVERY_MS, votingAt: -Infinity,
  serverAt: 0, replicas: [], experimentKey: null,
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
    card.dataset.status = inst.status;
    card.innerHTML = cardHtml(inst, now);
  }
}

function renderServices(services) {
  if (!services) return;
  $("#services").innerHTML = servicesHtml(services);
}

function renderFailures(failures) {
  if (!failures) return;
  live.episodes = failures;
  $("#failures tbody").innerHTML = failureRowsHtml(failures);
  refreshTimelines($("#timelines"), failures, JSON.parse($("#fault-kinds").textContent), renderTimelines);
}

function addEvents(events) {
  const list = $("#events");
  for (const e of events) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="t">${clock(eventTime(e))}</span>${describeEvent(e)}`;
    list.insertBefore(li, list.firstChild);
  }
  while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
}

function renderExperiment(x) {
  if (!x) return;
  const view = experimentView(x);
  if (view.key === live.experimentKey) return;
  live.experimentKey = view.key;
  const state = $("#experiment-state");
  state.textContent = view.state;
  state.dataset.state = x.state;
  $("#experiment-start").disabled = view.startDisabled;
  $("#experiment-stop").disabled = view.stopDisabled;
  const out = $("#experiment-output");
  if (out.textContent !== view.output) { out.textContent = view.output; out.scrollTop = out.scrollHeight; }
}

// ---- charts -----------------------------------------------------------------------------------------------

function currentWindow() {
  const now = live.serverAt || Date.now() / 1000;
  const {points, from} = chartWindow(live.points, now);
  live.points = points;
  return {marks: faultMarks(live.episodes, live.instances, now, from), range: [plotTime(from), plotTime(now)]};
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

function drawCharts() {
  // Every chart at once: when the page (re)connects.
  if (typeof Plotly === "undefined") return;
  const {marks, range} = currentWindow();
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
  const {marks, range} = currentWindow();
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
  if (performance.now() - live.votingAt >= VOTING_EVERY_MS) {
    $("#voting").innerHTML = votingHtml(d.voting);
    live.votingAt = performance.now();
  }
  renderExperiment(d.experiment);
  const missing = d.no_metrics || [];
  $("#no-metrics").hidden = !missing.length;
  if (missing.length) $("#no-metrics").textContent = t("charts.no_metrics", {services: missing.join(", ")});
  if (d.point) live.points.push(d.point);
  markUpdate(d.at);
  scheduleChart();
}

function connect() {
  const conn = $("#conn");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = t("conn.live"); });
  source.addEventListener("error", () => { conn.dataset.state = "lost"; conn.textContent = t("conn.lost"); });
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

setupLanguageSwitch();
setupOperator(renderExperiment);
connect();
setInterval(scheduleChart, CHART_EVERY_MS);  // keeps the time axis moving while no update comes (stream lost)
