// The reports page's tables on literal /api/runs answers.
import assert from "node:assert/strict";
import {test} from "node:test";

import {
  compareUrl, frontRowsHtml, kindBadgeHtml, passedText, pickRun, resultRowsHtml, runRowHtml, runVerdictHtml,
  studyLineHtml, studySummaryHtml, verdictHtml,
} from "../../../src/faultlab/lab/dashboard/static/runs.js";

import {said, useLanguage} from "../catalog.js";

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
  assert.match(html, /<td>1,873.0<\/td>/);
  assert.match(html, /<td>99.80<\/td>/);
  const bare = runRowHtml({name: "r", latest: false});
  assert.doesNotMatch(bare, /latest/);
  assert.doesNotMatch(bare, /checkbox/);  // no report.json: nothing to compare
  assert.match(runRowHtml({name: "a<b", has_report_json: true}), /<td><input type="checkbox" class="pick" data-run="a&lt;b"><\/td>/);
  assert.match(bare, /<td>—\/—<\/td>/);
  assert.match(html, /<td translate="no">2026-01-02T03:04:05<\/td>/);  // a timestamp is data
});

test("phase results show each run's figures and passed flag, or a line when report.json has none", () => {
  const html = resultRowsHtml([{phase: "crash", repetition: 1, ttd_ms: 12.5, ttr_ms: null, success_rate: 99.8,
    passed: false, missed: [said("ttd_over", {ttd_ms: 2167, limit_ms: 2000}), "p95 <x>"]}]);
  assert.match(html, /<td translate="no">crash<\/td><td>1<\/td>/);
  assert.match(html, /<td>12.5<\/td><td>—<\/td>/);
  // a sentence said from its code; one recorded before codes, as recorded (escaped)
  assert.match(html, /<td>no<\/td><td>TTD 2,167 ms &gt; 2,000 ms; p95 &lt;x&gt;<\/td>/);
  assert.match(resultRowsHtml([]), /no phase results in report.json/);
  assert.deepEqual([passedText(true), passedText(false), passedText(undefined)], ["yes", "no", "—"]);
});

test("the verdict line adds what was missed and why report.json could not be read", () => {
  assert.equal(runVerdictHtml({valid: true, verdict: {missed: []}}), 'verdict: <span class="ok-text">valid</span>');
  assert.equal(runVerdictHtml({valid: false, verdict: {missed: ["TTD 3 s > 2 s", said("runs_missing",
    {done: 1, expected: 1})]}, problem: null}),
    'verdict: <span class="bad-text">missed</span> — <span class="missed">TTD 3 s &gt; 2 s; only 1 of 1 phase run '
    + "completed</span>");
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

const STUDY = {name: "2026-detectors", kind: "study", html: "study.html", latest: false,
  start_time: "2026-11-30T09:21:00.000+00:00", duration_s: 1742.5, phases: ["crash", "intermittent"],
  study: {settings: 83, budget_per_hour: 1, focus: "intermittent", current: "error-rate failures=3 window=20",
    recommended: "error-rate <w>=40", current_on_front: ["crash", "intermittent"]}};

test("runs show their kind: an experiment or a detector study", () => {
  assert.equal(kindBadgeHtml("study"), '<span class="kind" data-kind="study">detector study</span>');
  assert.equal(kindBadgeHtml("experiment"), '<span class="kind" data-kind="experiment">experiment</span>');
  assert.match(kindBadgeHtml(undefined), /data-kind="experiment"/);  // runs listed before kinds existed
  assert.match(runRowHtml({name: "e", kind: "experiment", phases: ["baseline"]}), /data-kind="experiment">.*experiment/s);
});

test("a study row shows its start, duration, fault kinds, the lab's and the recommended setting and the front", () => {
  const html = runRowHtml(STUDY);
  assert.match(html, /<tr data-run="2026-detectors" data-kind="study">/);
  assert.match(html, /detector study<\/span><\/td><td translate="no">2026-11-30T09:21:00.000\+00:00<\/td><td>1,742.5<\/td>/);
  assert.match(html, /<td translate="no">crash, intermittent<\/td>/);
  assert.match(html, /<td colspan="6" class="study">lab's setting <code translate="no">error-rate failures=3 window=20<\/code>/);
  assert.match(html, /\(<span class="ok-text">on the front for<\/span> <span translate="no">crash, intermittent<\/span>\)/);
  assert.match(html, /recommended <code translate="no">error-rate &lt;w&gt;=40<\/code><\/td><\/tr>$/);
  assert.doesNotMatch(html, /valid|missed|\/—/);  // no experiment verdict or tests-passed cell
});

test("a study whose setting is on no front, or with no pick, says so", () => {
  const line = studyLineHtml({current: "consecutive failures=3", recommended: null, current_on_front: []});
  assert.match(line, /<span class="bad-text">on no fault kind's front<\/span>/);
  assert.match(line, /recommended <span class="muted">none within the false-alarm budget<\/span>/);
  assert.match(studyLineHtml(undefined), /lab's setting <code translate="no">—<\/code>/);  // unreadable study.json
});

test("a study's front lists its settings with the lab's ★ and the recommended ◆, or a line when there is none", () => {
  const html = frontRowsHtml([
    {setting: "error-rate w=40", current: false, recommended: true, ttd_median_ms: 142, ttd_p95_ms: 329.25, missed: 0,
      flaps: 0, false_off_per_hour: 0, false_off_per_hour_noisy: 0, false_off_per_hour_quiet: 0},
    {setting: "consecutive <k>=1", current: true, recommended: false, ttd_median_ms: 82, ttd_p95_ms: 275, missed: 0,
      flaps: 218, false_off_per_hour: 3, false_off_per_hour_noisy: null, false_off_per_hour_quiet: 6}]);
  const rows = html.split("</tr>").filter((r) => r.includes("<tr"));
  assert.equal(rows.length, 2);
  assert.match(rows[0], /^<tr><td><span translate="no">error-rate w=40<\/span> <span title="the recommended setting">◆<\/span><\/td><td>142.0<\/td><td>329.3<\/td><td>0<\/td>/);
  assert.match(rows[1], /^<tr class="current"><td><span translate="no">consecutive &lt;k&gt;=1<\/span> <span title="the lab's current setting">★<\/span>/);
  assert.match(rows[1], /<td>218<\/td><td>3.00<\/td>\s*<td>—<\/td><td>6.00<\/td>$/);
  assert.match(frontRowsHtml([]), /no setting on the front in study.json/);
  assert.match(frontRowsHtml(undefined), /colspan="8"/);
});

test("a study's summary names its focus kind, settings and budget, then its answer and any problem", () => {
  const html = studySummaryHtml({...STUDY, problem: "unreadable study.json: JSONDecodeError"});
  assert.match(html, /^Pareto front on <span translate="no">intermittent<\/span> \(83 settings replayed; recommended: the fastest there with at most 1.0 false OFF per hour\)<br>lab's setting/);
  assert.match(html, / — <span translate="no">unreadable study.json: JSONDecodeError<\/span>$/);
});
