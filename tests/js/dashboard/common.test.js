// The dashboard's formatting helpers on literal values.
import assert from "node:assert/strict";
import {test} from "node:test";

import {ago, clock, esc, num, plotTime} from "../../../src/faultlab/lab/dashboard/static/common.js";

import {useLanguage} from "../catalog.js";

useLanguage("en");  // the assertions below read English

test("esc turns every HTML-special character into its entity and null into nothing", () => {
  assert.equal(esc(`<b a="1" b='2'>&</b>`), "&lt;b a=&quot;1&quot; b=&#39;2&#39;&gt;&amp;&lt;/b&gt;");
  assert.equal(esc(null), "");
  assert.equal(esc(undefined), "");
  assert.equal(esc(0), "0");
});

test("num fixes the decimals and shows a dash for a missing or NaN value", () => {
  assert.equal(num(3.14159), "3.1");
  assert.equal(num(2, 2), "2.00");
  assert.equal(num(0, 0), "0");
  assert.equal(num(null), "—");
  assert.equal(num(undefined, 2), "—");
  assert.equal(num(NaN), "—");
});

test("clock shows a UNIX time as local HH:MM:SS.mmm, and a dash for none", () => {
  const t = new Date(2026, 0, 2, 3, 4, 5, 67).getTime() / 1000;  // local time, whatever the zone
  assert.equal(clock(t), "03:04:05.067");
  assert.equal(clock(null), "—");
  assert.equal(clock(0), "—");
});

test("plotTime shifts UNIX seconds by the zone offset so Plotly's UTC axis shows local time", () => {
  assert.equal(plotTime(1000, 0), 1_000_000);
  assert.equal(plotTime(1000, -60 * 60000), 1_000_000 + 3_600_000);  // UTC+1: getTimezoneOffset() is -60
  const local = new Date();
  local.setHours(10, 20, 30, 400);
  const shown = new Date(plotTime(local.getTime() / 1000));
  assert.deepEqual([shown.getUTCHours(), shown.getUTCMinutes(), shown.getUTCSeconds(), shown.getUTCMilliseconds()],
    [10, 20, 30, 400]);
});

test("ago says milliseconds under a second, seconds above, never a negative age", () => {
  assert.equal(ago(100, 100.25), "250 ms ago");
  assert.equal(ago(100, 103.25), "3.3 s ago");
  assert.equal(ago(100, 99), "0 ms ago");
  assert.equal(ago(null, 5), "—");
});
