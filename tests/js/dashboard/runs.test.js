// The reports page's tables on literal /api/runs answers.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  compareUrl, passedText, pickRun, resultRowsHtml, runRowHtml, runVerdictHtml, verdictHtml,
} from "../../../src/faultlab/services/dashboard/static/runs.js";

import {useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

test("a run's verdict is valid, missed or unknown", () => {
  assert.match(verdictHtml(true), /ok-text">valid/);
  assert.match(verdictHtml(false), /bad-text">missed/);
  assert.match(verdictHtml(null), /muted">—/);
});

test("a run row shows its name, latest mark, phases and summary figures, escaped", () => {
  const html = runRowHtml({name: "2026<x>", latest: true, start_time: "2026-01-02T03:04:05", duration_s: 31.5,
    phases: ["baseline", "crash"], valid: true, summary: {successful_tests: 2, total_tests: 2, avg_ttd_ms: 12.5,
      avg_ttr_ms: 1873, max_p95_ms: 9.9, min_success_rate: 99.8}});
  assert.match(html, /data-run="2026&lt;x&gt;"/);
  assert.match(html, /<b>latest<\/b>/);
  assert.match(html, /baseline, crash/);
  assert.match(html, /<td>2\/2<\/td>/);
  assert.match(html, /<td>1873.0<\/td>/);
  assert.match(html, /<td>99.80<\/td>/);
  const bare = runRowHtml({name: "r", latest: false});
  assert.doesNotMatch(bare, /latest/);
  assert.doesNotMatch(bare, /checkbox/);  // no report.json: nothing to compare
  assert.match(runRowHtml({name: "a<b", has_report_json: true}), /<td><input type="checkbox" class="pick" data-run="a&lt;b"><\/td>/);
  assert.match(bare, /<td>—\/—<\/td>/);
});

test("phase results show each run's figures and passed flag, or a line when report.json has none", () => {
  const html = resultRowsHtml([{phase: "crash", repetition: 1, ttd_ms: 12.5, ttr_ms: null, success_rate: 99.8,
    passed: false, missed: ["TTR", "p95 <x>"]}]);
  assert.match(html, /<td>crash<\/td><td>1<\/td>/);
  assert.match(html, /<td>12.5<\/td><td>—<\/td>/);
  assert.match(html, /<td>no<\/td><td translate="no">TTR; p95 &lt;x&gt;<\/td>/);  // report.json's own words
  assert.match(resultRowsHtml([]), /no phase results in report.json/);
  assert.deepEqual([passedText(true), passedText(false), passedText(undefined)], ["yes", "no", "—"]);
});

test("the verdict line adds what was missed and why report.json could not be read", () => {
  assert.equal(runVerdictHtml({valid: true, verdict: {missed: []}}), 'verdict: <span class="ok-text">valid</span>');
  assert.equal(runVerdictHtml({valid: false, verdict: {missed: ["TTD 3 s > 2 s", "data"]}, problem: null}),
    'verdict: <span class="bad-text">missed</span> — <span translate="no">TTD 3 s &gt; 2 s; data</span>');
  assert.match(runVerdictHtml({valid: null, verdict: null, problem: "unreadable report.json"}),
    /— <span translate="no">unreadable report.json<\/span>$/);
});

test("the run shown first is the one in the URL fragment, else the latest, else the newest", () => {
  const runs = [{name: "c"}, {name: "b", latest: true}, {name: "a b"}];
  assert.equal(pickRun(runs, "#run=a%20b").name, "a b");
  assert.equal(pickRun(runs, "#run=gone").name, "b");
  assert.equal(pickRun(runs, "").name, "b");
  assert.equal(pickRun([{name: "x"}, {name: "y"}], "").name, "x");
  assert.equal(pickRun([], ""), undefined);
});

test("two or more ticked runs open the comparison page in the page's language; fewer open nothing", () => {
  assert.equal(compareUrl(["20261130T111803Z", "a b"], "es"), "/compare?runs=20261130T111803Z,a%20b&lang=es");
  assert.equal(compareUrl(["x", "y", "z"], "en"), "/compare?runs=x,y,z&lang=en");
  assert.equal(compareUrl(["x"], "en"), null);
  assert.equal(compareUrl([], "en"), null);
});
