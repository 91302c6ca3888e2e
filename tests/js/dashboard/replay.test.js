// The replay's clock and what the page shows at a moment of a recorded run, on a literal recording.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  episodeAt, failuresAt, moments, ReplayClock, SPEEDS, statusesAt, timelinesAt,
} from "../../../src/faultlab/lab/dashboard/static/replay.js";

const EPISODE = {replica: 2, fault_kind: "latency", activated_at: 10, detected_at: 10.32, detected_by: "monitor",
  ttd_ms: 320, cleared_at: 12, recovered_at: 12.2, ttr_ms: 200};
const RECORDING = {start: 0, end: 20, replicas: [1, 2, 3], episodes: [EPISODE],
  events: [{type: "state", replica: 2, status: "OFF", at: 10.32, reason: "timeout"},
    {type: "state", replica: 2, status: "ON", at: 12.2, reason: "healthy"}],
  timelines: [{phase: "latency", repetition: 1, doc: {window: {start: 9, end: 13.2}}}],
  recorded: {states: true, observations: true}};

test("an episode shows each moment and its figure only once it has happened", () => {
  assert.equal(episodeAt(EPISODE, 9.9), null);
  const open = episodeAt(EPISODE, 10.1);
  assert.deepEqual([open.activated_at, open.detected_at, open.ttd_ms, open.recovered_at, open.ttr_ms],
    [10, null, null, null, null]);
  const detected = episodeAt(EPISODE, 11);
  assert.deepEqual([detected.ttd_ms, detected.detected_by, detected.ttr_ms], [320, "monitor", null]);
  assert.deepEqual(failuresAt([EPISODE], 20), [EPISODE]);
});

test("the cards follow the recorded state events, or the episodes when none were recorded", () => {
  assert.deepEqual(statusesAt(RECORDING, 11).map((c) => c.status), ["ON", "OFF", "ON"]);
  assert.equal(statusesAt(RECORDING, 11)[1].open_fault, "latency");
  assert.deepEqual(statusesAt(RECORDING, 13).map((c) => c.status), ["ON", "ON", "ON"]);
  const bare = {...RECORDING, events: [], recorded: {states: false, observations: false}};
  assert.deepEqual(statusesAt(bare, 10.1).map((c) => c.status), ["ON", "ON", "ON"]);  // not detected yet
  assert.deepEqual(statusesAt(bare, 11).map((c) => c.status), ["ON", "OFF", "ON"]);
});

test("an episode's timeline appears once its window is over; the moments are the run's, sorted, unique", () => {
  assert.equal(timelinesAt(RECORDING.timelines, 13).length, 0);
  assert.equal(timelinesAt(RECORDING.timelines, 13.2).length, 1);
  assert.deepEqual(moments(RECORDING), [10, 10.32, 12, 12.2]);
});

test("the clock plays at its speed, pauses, steps to the next moment and stops at the end", () => {
  const clock = new ReplayClock(0, 20);
  assert.deepEqual(SPEEDS, [1, 2, 5, 10, 20]);
  assert.throws(() => clock.setSpeed(3), RangeError);
  clock.advance(1000);
  assert.equal(clock.at, 0);  // paused: nothing moves
  clock.toggle();
  clock.setSpeed(20);
  clock.advance(500);
  assert.equal(clock.at, 10);
  clock.step(moments(RECORDING));
  assert.equal(clock.playing, false);
  assert.equal(clock.at, 10.32);
  clock.toggle();
  clock.advance(10_000);
  assert.equal(clock.at, 20);
  assert.ok(clock.ended && !clock.playing);
  clock.toggle();  // played again from the start
  assert.equal(clock.at, 0);
  clock.step([]);
  assert.equal(clock.at, 20);
});
