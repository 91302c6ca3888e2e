// The operator form's requests and answers on literal values.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  clearUrl, clearedKinds, experimentOf, faultBody, formFields, kindOf, kindOptionsHtml, paramInputsHtml,
} from "../../../src/faultlab/lab/dashboard/static/operator.js";

import {useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

// Entries as GET /api/fault-kinds serves them (the registry's describe()), cut to what the form reads.
const field = (name, type, extra = {}) => ({name, type, required: false, default: null, minimum: null, maximum: null,
  pattern: null, description: `${name} <meaning>`, ...extra});
const KINDS = [
  {kind: "latency", target: "replica", summary: "every request waits", form: ["seed", "latency_ms", "jitter_ms"],
    fields: [field("seed", "integer", {minimum: 0}), field("latency_ms", "number", {default: 1200, minimum: 0, maximum: 60000}),
      field("jitter_ms", "number", {default: 0})]},
  {kind: "incorrect", target: "replica", summary: "wrong values", form: ["seed", "product_id", "delta"],
    fields: [field("seed", "integer"), field("product_id", "string", {default: "PROD-001"}), field("delta", "integer")]},
  {kind: "hang", target: "replica", summary: "never answers", form: ["seed"], fields: [field("seed", "integer")]},
  {kind: "partition", target: "network", summary: "cut off", form: [], fields: [field("groups", "array")]},
  {kind: "stop", target: "process", summary: "stopped", form: [], fields: []},
];

test("each fault kind sends only its own form fields, as numbers where its model wants numbers", () => {
  const values = {latency_ms: "300", jitter_ms: "", seed: " 7 ", product_id: "  PROD-002 ", delta: "-5",
    probability: "0.25"};
  assert.deepEqual(faultBody("3", kindOf(KINDS, "latency"), values), {replica: 3, kind: "latency", latency_ms: 300,
    seed: 7});
  assert.deepEqual(faultBody("2", kindOf(KINDS, "incorrect"), values), {replica: 2, kind: "incorrect",
    product_id: "PROD-002", delta: -5, seed: 7});
  assert.deepEqual(faultBody("1", kindOf(KINDS, "hang"), {}), {replica: 1, kind: "hang"});
  assert.deepEqual(faultBody("1", kindOf(KINDS, "partition"), values), {replica: 1, kind: "partition"});
  assert.deepEqual(faultBody("2", kindOf(KINDS, "stop"), values), {replica: 2, kind: "stop"});
  assert.equal(kindOf(KINDS, "meteor"), undefined);
  assert.deepEqual(formFields(kindOf(KINDS, "partition")), []);  // groups is not a form field
});

test("the form lists every kind and shows one input per form field, with its limits and default, escaped", () => {
  const options = kindOptionsHtml(KINDS);
  assert.equal((options.match(/<option/g) || []).length, KINDS.length);
  assert.match(options, /<option value="stop" title="stopped">stop<\/option>/);
  const inputs = paramInputsHtml(kindOf(KINDS, "latency"));
  assert.match(inputs, /id="fault-latency_ms" data-param="latency_ms" type="number" min="0" max="60000" step="any" value="1200"/);
  assert.match(inputs, /title="latency_ms &lt;meaning&gt;"/);
  assert.match(inputs, /id="fault-seed" data-param="seed" type="number" min="0" step="1" value=""/);
  assert.match(paramInputsHtml(kindOf(KINDS, "incorrect")), /id="fault-product_id" data-param="product_id" type="text" value="PROD-001"/);
  assert.equal(paramInputsHtml(kindOf(KINDS, "stop")), "");
});

test("the clear button clears the replica's own faults, or a supervisor's kind where it was applied", () => {
  assert.equal(clearUrl("2", kindOf(KINDS, "latency")), "/api/faults?replica=2");
  assert.equal(clearUrl("3", kindOf(KINDS, "partition")), "/api/faults?replica=3&kind=partition");
  assert.equal(clearUrl("1", kindOf(KINDS, "stop")), "/api/faults?replica=1&kind=stop");
  assert.equal(clearUrl("1", undefined), "/api/faults?replica=1");
});

test("a clear answer lists the cleared fault kinds, or says nothing was active", () => {
  assert.equal(clearedKinds({cleared: [{kind: "latency"}, {kind: "stale"}]}), "latency, stale");
  assert.equal(clearedKinds({cleared: []}), "nothing active");
  assert.equal(clearedKinds({error: "no"}), "nothing active");
  assert.equal(clearedKinds({started: true, started_at: 5}), "stop");
});

test("the experiment is read from a wrapped answer, a plain successful one, and never from an error", () => {
  assert.deepEqual(experimentOf({ok: true, data: {experiment: {state: "running"}}}), {state: "running"});
  assert.deepEqual(experimentOf({ok: false, data: {experiment: {state: "running"}, error: "busy"}}), {state: "running"});
  assert.deepEqual(experimentOf({ok: true, data: {state: "idle"}}), {state: "idle"});
  assert.equal(experimentOf({ok: false, data: {error: "token refused"}}), null);
});
