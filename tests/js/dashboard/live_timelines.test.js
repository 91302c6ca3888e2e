// The live page's timelines: when the page asks for them again, and the colours it hands the component.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  episodesKey, kindColours, OPEN_EVERY_MS, shouldRefresh,
} from "../../../src/faultlab/lab/dashboard/static/live_timelines.js";
import {catalogEntries} from "../../../src/faultlab/lab/dashboard/static/i18n.js";

import {useLanguage} from "../catalog.js";

useLanguage("es");

const CLOSED = {replica: 2, activated_at: 10, detected_at: 10.3, cleared_at: 12, recovered_at: 12.2};
const OPEN = {replica: 1, activated_at: 20, detected_at: null, cleared_at: null, recovered_at: null};

test("a new or changed episode is asked for at once; nothing changed and nothing open is not asked again", () => {
  const state = {key: episodesKey([CLOSED]), askedAt: 0, inFlight: false};
  assert.equal(shouldRefresh(state, [CLOSED], 1e9), false);
  assert.equal(shouldRefresh(state, [CLOSED, OPEN], 1), true);
  assert.equal(shouldRefresh(state, [{...CLOSED, recovered_at: 12.5}], 1), true);
  assert.equal(shouldRefresh({...state, key: null}, [], 1), true);  // the page's first answer
});

test("an open episode is asked for again once OPEN_EVERY_MS has passed, and never while a request is out", () => {
  const state = {key: episodesKey([OPEN]), askedAt: 1000, inFlight: false};
  assert.equal(shouldRefresh(state, [OPEN], 1000 + OPEN_EVERY_MS - 1), false);
  assert.equal(shouldRefresh(state, [OPEN], 1000 + OPEN_EVERY_MS), true);
  assert.equal(shouldRefresh({...state, inFlight: true}, [OPEN, CLOSED], 1e9), false);
});

test("the colours are the fault registry's, by kind; the words are the catalog's timeline entries", () => {
  assert.deepEqual(kindColours({kinds: [{kind: "crash", colour: "#d62728"}, {kind: "latency", colour: "#ff7f0e"}]}),
    {crash: "#d62728", latency: "#ff7f0e"});
  assert.deepEqual(kindColours(null), {});
  const words = catalogEntries("timeline.");
  assert.equal(words["timeline.lane.recovery"], "recuperación");
  assert.ok(Object.keys(words).every((k) => k.startsWith("timeline.")));
});
