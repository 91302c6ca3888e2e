// The replay page: a recorded run (GET /api/replay/<run>) played on the dashboard's cards, failures table and episode
// timelines, with play/pause, step and speed; no live view, no operator control. The clock ticks only while playing.

import {$, clock} from "./common.js";
import {catalogEntries, lang, setupLanguageSwitch, t} from "./i18n.js";
import {
  failuresAt, moments, ReplayClock, statusesAt, timelinesAt,
} from "./replay.js";
import {renderTimelines} from "./timeline.js";
import {cardHtml, failureRowsHtml} from "./views.js";

const TICK_MS = 100;
const replay = {clock: null, recording: null, moments: [], shownTimelines: -1, failuresKey: null, timer: null};
window.faultlabReplay = replay;

function colours() {
  const kinds = JSON.parse($("#fault-kinds").textContent).kinds || [];
  return Object.fromEntries(kinds.map((k) => [k.kind, k.colour]));
}

function render() {
  const {clock: c, recording} = replay;
  const at = c.at;
  $("#cards").innerHTML = statusesAt(recording, at).map((inst) =>
    `<div class="card" id="card-${inst.replica}" data-replica="${inst.replica}" data-status="${inst.status}">${cardHtml(inst, at)}</div>`).join("");
  const failures = failuresAt(recording.episodes, at);
  const key = JSON.stringify(failures);
  if (key !== replay.failuresKey) {
    $("#failures tbody").innerHTML = failureRowsHtml(failures);
    replay.failuresKey = key;
  }
  const docs = timelinesAt(recording.timelines, at);
  if (docs.length !== replay.shownTimelines) {
    renderTimelines($("#timelines"), docs, {lang: lang(), words: catalogEntries("timeline."), colours: colours()});
    replay.shownTimelines = docs.length;
  }
  $("#replay-clock").textContent = t("replay.clock", {at: clock(at), elapsed: (at - c.start).toFixed(1),
    total: (c.end - c.start).toFixed(1)});
  const state = c.playing ? "playing" : c.ended ? "ended" : "paused";
  $("#replay-state").dataset.state = state;
  $("#replay-state").textContent = t(`replay.${state}`);
  $("#replay-play").textContent = t(c.playing ? "replay.pause" : "replay.play");
}

function tick() {
  const now = performance.now();
  replay.clock.advance(now - replay.last);
  replay.last = now;
  render();
  if (!replay.clock.playing) {
    clearInterval(replay.timer);
    replay.timer = null;
  }
}

function play() {
  replay.clock.toggle();
  if (replay.clock.playing && replay.timer === null) {
    replay.last = performance.now();
    replay.timer = setInterval(tick, TICK_MS);
  }
  render();
}

async function start() {
  const name = decodeURIComponent(location.pathname.split("/").pop());
  const response = await fetch(`/api/replay/${encodeURIComponent(name)}`);
  if (!response.ok) {
    $("#replay-state").textContent = (await response.json()).error;
    return;
  }
  const recording = await response.json();
  replay.recording = recording;
  replay.clock = new ReplayClock(recording.start, recording.end);
  replay.moments = moments(recording);
  $("#replay-run").textContent = recording.run;
  const missing = [];
  if (!recording.recorded.states) missing.push(t("replay.no_states"));
  if (!recording.recorded.observations) missing.push(t("replay.no_observations"));
  $("#replay-recorded").textContent = missing.join(" ");
  $("#replay-recorded").hidden = !missing.length;
  $("#replay-speed").addEventListener("change", (e) => replay.clock.setSpeed(Number(e.target.value)));
  replay.clock.setSpeed(Number($("#replay-speed").value));
  $("#replay-play").addEventListener("click", play);
  $("#replay-step").addEventListener("click", () => {
    replay.clock.step(replay.moments);
    render();
  });
  for (const button of document.querySelectorAll("#replay-controls button")) button.disabled = false;
  render();
  document.body.dataset.ready = "yes";
}

setupLanguageSwitch();
start();
