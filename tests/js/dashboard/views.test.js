// What the live page shows for literal snapshots: cards, services, voting, failures, events, the experiment line.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  cardHtml, cardView, describeEvent, eventTime, experimentView, failureRowsHtml, servicesHtml, votingHtml,
  otherVoting,
} from "../../../src/faultlab/lab/dashboard/static/views.js";

import {said, useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

const ON = {replica: 2, status: "ON", monitor_status: "ON", detector: "consecutive", since: 100, last_check: 200,
  applied_seq: 41, offset: 40, log_end: 42, lag: 1, faults: [], open_fault: null, pid: 321, shadow_off: []};

test("a card names the active faults, else the open episode's fault, else none", () => {
  assert.deepEqual(cardView({...ON, faults: ["latency", "stale"]}).faults, "latency, stale");
  assert.equal(cardView({...ON, faults: [], open_fault: "crash"}).faults, "crash");
  assert.equal(cardView(ON).faults, "none");
  assert.equal(cardView(ON).faulty, false);
  assert.equal(cardView({...ON, open_fault: "crash"}).faulty, true);
});

test("a shadow detector's OFF is shown only against an ON from another detector", () => {
  assert.deepEqual(cardView({...ON, shadow_off: ["phi", "consecutive"]}).dissent, ["phi"]);
  assert.deepEqual(cardView({...ON, monitor_status: "OFF", shadow_off: ["phi"]}).dissent, []);
});

test("a card shows the applied position, the fault mark, the pid and the voter's wrong answers", () => {
  const html = cardHtml({...ON, faults: ["latency"], recent_wrong: 3, reason: said("healthy")}, 200.5);
  assert.match(html, /inventory-2/);
  assert.match(html, /data-status="ON">ON</);
  assert.match(html, /event 41 · offset 40\s+of 42 \(lag 1\)/);
  assert.match(html, /<dd class="fault">latency<\/dd>/);
  assert.match(html, /<dd translate="no">321<\/dd>/);
  assert.match(html, /voter: 3 wrong answers in 3 s/);
  assert.match(html, /<span class="reason">healthy and caught up<\/span>/);  // the monitor's reason, said
  assert.match(cardHtml({...ON, reason: "healthy <ok>"}, 200), /<span class="reason">healthy &lt;ok&gt;<\/span>/);
  assert.match(html, /\(500 ms ago\)/);
  assert.doesNotMatch(cardHtml(ON, 200), /wrong answers/);
  assert.match(cardHtml({...ON, applied_seq: null, pid: undefined}, 200), /event — ·.*<dt>pid<\/dt><dd translate="no">—<\/dd>/s);
});

test("a card of a system faultlab did not start shows its instance id and the observer's state beside its monitor's", () => {
  const html = cardHtml({...ON, status: "ON", monitor_status: "ON", observer_status: "OFF",
    instance_id: "inventory-svc-2-1"}, 200);
  assert.match(html, /inventory-2 · inventory-svc-2-1/);
  assert.match(html, /<dt>observer<\/dt><dd><span class="badge" data-status="OFF">OFF<\/span>/);
  assert.doesNotMatch(cardHtml(ON, 200), /observer/);
  assert.match(cardHtml({...ON, instance_id: "2"}, 200), /translate="no">inventory-2<\/span>/);
});

test("services are listed in the snapshot's order with their status and round-trip time", () => {
  const html = servicesHtml([{name: "orders", status: "UP", rtt_ms: 1.4}, {name: "voter", status: "DOWN", rtt_ms: null}]);
  assert.deepEqual([...html.matchAll(/data-service="([^"]+)"/g)].map((m) => m[1]), ["orders", "voter"]);
  assert.match(html, /UP · 1 ms/);
  assert.match(html, /DOWN · — ms/);
});

test("the voting panel says when the voter does not answer, else its rates and per-replica outliers", () => {
  assert.equal(votingHtml(null), '<span class="muted">voter not answering</span>');
  const html = votingHtml({quorum_rate: 99.5, total_votes: 1000, quorum_not_reached: 5, votes_needed: 2, fan_out: 3,
    latency_ms: {p50: 1.25, p99: 7}, outliers_by_replica: {1: 4, 2: 0},
    replicas: {1: {wrong: 3, slow: 1, failures: {timeout: 2, http_500: 1}, agreed: 990, behind: 0, median_latency_ms: 1.5},
      2: {wrong: 0, slow: 0, failures: {}, agreed: 1000, behind: 2, median_latency_ms: null}}});
  assert.match(html, /id="quorum-rate">99.50%/);
  assert.match(html, /1.3 \/ 7.0/);
  assert.match(html, /2\/3/);
  assert.match(html, /<div class="v">1,000<\/div>/);  // counts with the language's separators
  const rows = [...html.matchAll(/<tr><td translate="no">inventory-(\d)<\/td>.*?<\/tr>/gs)].map((m) => m[0]);
  assert.equal(rows.length, 2);
  assert.match(rows[0], /width:80px/);  // the replica with most outliers gets the full bar
  assert.match(rows[0], /<td>3<\/td><td>1<\/td><td>3<\/td><td>990<\/td>/);  // wrong, slow, failed (2 + 1), agreed
  assert.match(rows[1], /width:0px/);
});

test("a system's own voter layout (the guide's example) gets its figures found by name and every number listed", () => {
  const guide = {voting_stats: {total_requests: 200, quorum_reached: 190, quorum_not_reached: 10, outliers_detected: 7,
    total_time_ms: 500, max_response_time: 12.5, min_response_time: null}, required_quorum: 2, fan_out: 3};
  const f = otherVoting(guide);
  assert.equal(f.votes, 200);
  assert.equal(f.rate, 95);
  assert.equal(f.mean_ms, 2.5);
  assert.equal(f.needed, 2);
  const html = votingHtml(guide);
  assert.match(html, /95.00%/);
  assert.match(html, /2\/3/);
  assert.match(html, /<div class="v">2.5<\/div>/);
  const paths = [...html.matchAll(/<tr><td translate="no">([^<]+)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(paths, ["voting_stats.total_requests", "voting_stats.quorum_reached", "voting_stats.quorum_not_reached",
    "voting_stats.outliers_detected", "voting_stats.total_time_ms", "voting_stats.max_response_time", "required_quorum",
    "fan_out"]);  // null is no number: left out
  assert.equal(otherVoting({voting_stats: {total_requests: 4, avg_response_time: 3.2}}).mean_ms, 3.2);  // as it says it
  assert.doesNotMatch(votingHtml({status: "ok"}), /NaN|undefined/);  // nothing it can name: no empty figure
});

test("recent failures show the last 30 episodes newest first, or a line saying there are none", () => {
  const episodes = Array.from({length: 35}, (_, i) => ({replica: 1 + (i % 3), fault_kind: `k${i}`, ttd_ms: i}));
  const html = failureRowsHtml(episodes);
  const kinds = [...html.matchAll(/<td translate="no">(k\d+)<\/td>/g)].map((m) => m[1]);
  assert.equal(kinds.length, 30);
  assert.equal(kinds[0], "k34");
  assert.equal(kinds[29], "k5");
  assert.match(failureRowsHtml([]), /no fault episodes yet/);
  const by = said("detected_by", {source: said("source_voter"), reason: said("detector_off",
    {evidence: said("evidence_refused"), detector: "error-rate"})});
  assert.match(failureRowsHtml([{replica: 1, fault_kind: "crash", detected_by: by}]),
    /<td>voter: connection refused \(error-rate detector\)<\/td>/);
});

test("an event line says the state change, or the episode phase with TTD on detection and TTR on recovery", () => {
  // the monitor's reasons and sources are said in the page's language; identifiers (a fault kind) are data
  const data = (text) => `<span translate="no">${text}</span>`;
  const refused = said("detector_off", {evidence: said("evidence_refused"), detector: "error-rate"});
  assert.equal(describeEvent({type: "state", replica: 2, status: "OFF", reason: refused, source: "voter"}),
    "replica 2 → <b>OFF</b> (connection refused (error-rate detector), voter)");
  assert.equal(describeEvent({type: "state", replica: 2, status: "OFF", reason: "timeout <x>", source: "probe"}),
    "replica 2 → <b>OFF</b> (timeout &lt;x&gt;, probe)");  // another monitor's words, and source, as recorded
  assert.equal(describeEvent({type: "episode", replica: 1, fault_kind: "crash", phase: "detected", ttd_ms: 12.34,
    detected_by: said("detected_by", {source: said("source_voter"), reason: refused})}),
    `replica 1 fault ${data("crash")} <b>detected</b> TTD 12.3 ms (voter: connection refused (error-rate detector))`);
  assert.equal(describeEvent({type: "episode", replica: 1, fault_kind: "crash", phase: "recovered", ttr_ms: 90}),
    `replica 1 fault ${data("crash")} <b>recovered</b> TTR 90.0 ms`);
  assert.equal(describeEvent({type: "episode", replica: 3, fault_kind: "stale", phase: "cleared"}),
    `replica 3 fault ${data("stale")} <b>cleared</b>`);
  assert.equal(describeEvent({type: "other", note: "<x>"}), "{&quot;type&quot;:&quot;other&quot;,&quot;note&quot;:&quot;&lt;x&gt;&quot;}");
});

test("an episode event's line carries the moment of its own phase", () => {
  const episode = {type: "episode", activated_at: 10, detected_at: 11, cleared_at: 12, recovered_at: 13};
  assert.equal(eventTime({...episode, phase: "opened"}), 10);
  assert.equal(eventTime({...episode, phase: "detected"}), 11);
  assert.equal(eventTime({...episode, phase: "cleared"}), 12);
  assert.equal(eventTime({...episode, phase: "recovered"}), 13);
  assert.equal(eventTime({type: "state", at: 99}), 99);
});

test("the experiment line shows state, exit code and progress, and which button is usable", () => {
  const running = experimentView({state: "running", running: true, pid: 42, lines: 7, exit_code: null, output: ["a", "b"]});
  assert.equal(running.state, "running · pid 42 · 7 lines");
  assert.equal(running.output, "a\nb");
  assert.deepEqual([running.startDisabled, running.stopDisabled], [true, false]);
  const done = experimentView({state: "missed", running: false, lines: 9, exit_code: 1});
  assert.equal(done.state, "missed (exit 1)");
  assert.deepEqual([done.startDisabled, done.stopDisabled, done.output], [false, true, ""]);
  assert.notEqual(running.key, done.key);
});
