// The operator form's requests and answers on literal values.
import assert from "node:assert/strict";
import {test} from "node:test";

import {clearedKinds, experimentOf, faultBody} from "../../../src/faultlab/services/dashboard/static/operator.js";

import {useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

const VALUES = {latency: "300", probability: "0.25", product: "  PROD-002 "};

test("each fault kind sends only its own parameter, as numbers where the API wants numbers", () => {
  assert.deepEqual(faultBody("3", "latency", VALUES), {replica: 3, kind: "latency", latency_ms: 300});
  assert.deepEqual(faultBody("1", "intermittent", VALUES), {replica: 1, kind: "intermittent", probability: 0.25});
  assert.deepEqual(faultBody("2", "incorrect", VALUES), {replica: 2, kind: "incorrect", product_id: "PROD-002"});
  for (const kind of ["crash", "hang", "stale"]) assert.deepEqual(faultBody("2", kind, VALUES), {replica: 2, kind});
});

test("a clear answer lists the cleared fault kinds, or says nothing was active", () => {
  assert.equal(clearedKinds({cleared: [{kind: "latency"}, {kind: "stale"}]}), "latency, stale");
  assert.equal(clearedKinds({cleared: []}), "nothing active");
  assert.equal(clearedKinds({error: "no"}), "nothing active");
});

test("the experiment is read from a wrapped answer, a plain successful one, and never from an error", () => {
  assert.deepEqual(experimentOf({ok: true, data: {experiment: {state: "running"}}}), {state: "running"});
  assert.deepEqual(experimentOf({ok: false, data: {experiment: {state: "running"}, error: "busy"}}), {state: "running"});
  assert.deepEqual(experimentOf({ok: true, data: {state: "idle"}}), {state: "idle"});
  assert.equal(experimentOf({ok: false, data: {error: "token refused"}}), null);
});
