// The pages' two JSON catalogs: the same keys and fields in both, every key the pages use present, and the pages'
// words in Spanish when the catalog is Spanish.
import assert from "node:assert/strict";
import {readdirSync, readFileSync} from "node:fs";
import {test} from "node:test";

import {LOCALE, messages, said, useLanguage} from "../catalog.js";
import {ago, num} from "../../../src/faultlab/lab/dashboard/static/common.js";
import {formatValue, languageCookie, plotSeparators, say, t} from "../../../src/faultlab/lab/dashboard/static/i18n.js";
import {clearedKinds} from "../../../src/faultlab/lab/dashboard/static/operator.js";
import {
  frontRowsHtml, passedText, resultRowsHtml, runRowHtml, verdictHtml,
} from "../../../src/faultlab/lab/dashboard/static/runs.js";
import {cardHtml, describeEvent, experimentView, votingHtml} from "../../../src/faultlab/lab/dashboard/static/views.js";

const FIELD = /\{(\w+)\}/g;
const STATIC = new URL("../../../src/faultlab/lab/dashboard/static/", import.meta.url);
const TEMPLATES = new URL("../../../src/faultlab/lab/dashboard/templates/", import.meta.url);

test("both catalogs have the same keys, each translated, with the same {fields}", () => {
  const en = messages("en"), es = messages("es");
  assert.deepEqual(Object.keys(es).sort(), Object.keys(en).sort());
  for (const [key, text] of Object.entries(en)) {
    assert.ok(text && es[key], `empty message ${key}`);
    assert.deepEqual([...es[key].matchAll(FIELD)].map((m) => m[1]).sort(),
      [...text.matchAll(FIELD)].map((m) => m[1]).sort(), key);
  }
  assert.deepEqual(readdirSync(LOCALE).sort(), ["en.json", "es.json"]);
});

test("every key the scripts and templates say is in the catalog", () => {
  const keys = new Set(Object.keys(messages("en")));
  const used = new Set();
  for (const name of readdirSync(STATIC).filter((f) => f.endsWith(".js"))) {
    const source = readFileSync(new URL(name, STATIC), "utf8");
    for (const m of source.matchAll(/\bt\("([a-z0-9_.]+)"/g)) used.add(m[1]);
    for (const m of source.matchAll(/"(chart\.(?:trace|axis)\.[a-z_]+)"/g)) used.add(m[1]);  // charts.js's keys
  }
  for (const name of readdirSync(TEMPLATES)) {
    for (const m of readFileSync(new URL(name, TEMPLATES), "utf8").matchAll(/t\("([a-z0-9_.]+)"\)/g)) used.add(m[1]);
  }
  const states = ["idle", "running", "finished", "missed", "interrupted", "failed"].map((s) => `experiment.state.${s}`);
  const events = ["detected", "recovered", "opened", "cleared"].map((p) => `event.${p}`);
  for (const key of [...states, ...events]) used.add(key);  // keys built from a value
  const missing = [...used].filter((k) => !keys.has(k));
  assert.deepEqual(missing, []);
  assert.ok(used.size > 100, `only ${used.size} keys found in use`);
});

test("in Spanish the cards, voting panel, events and reports tables speak the guide's words", () => {
  useLanguage("es");
  try {
    const card = cardHtml({replica: 1, status: "OFF", since: 100, last_check: 200, applied_seq: 4, offset: 3,
      log_end: 5, lag: 1, faults: [], recent_wrong: 2, detector: "consecutive", shadow_off: []}, 200.25);
    assert.match(card, /<dt>posición aplicada<\/dt><dd>evento 4 · offset 3 de 5 \(retraso 1\)<\/dd>/);
    assert.match(card, /<dd class="">ninguno<\/dd>/);
    assert.match(card, /votador: 2 respuestas incorrectas en 3 s/);
    assert.match(card, /\(hace 250 ms\)/);
    assert.match(votingHtml({quorum_rate: 99.5, total_votes: 3, quorum_not_reached: 0, votes_needed: 2, fan_out: 3,
      replicas: {}}), /99,50%.*tasa de quórum.*lecturas votadas.*sin quórum \("quorum not reached"\)/s);
    assert.equal(describeEvent({type: "episode", replica: 2, fault_kind: "crash", phase: "recovered", ttr_ms: 90}),
      'réplica 2 fallo <span translate="no">crash</span> <b>recuperado</b> TTR 90,0 ms');
    assert.equal(experimentView({state: "missed", exit_code: 1, running: false}).state,
      "no cumplido (código de salida 1)");
    assert.equal(verdictHtml(true), '<span class="ok-text">válido</span>');
    assert.equal(passedText(true), "sí");
    assert.match(resultRowsHtml([]), /report.json no tiene resultados de fases/);
    const study = runRowHtml({name: "s", kind: "study", phases: ["hang"], study: {current: "consecutive failures=3",
      recommended: null, current_on_front: ["hang"]}});
    assert.match(study, /estudio de detectores<\/span>/);
    assert.match(study, /configuración del laboratorio <code translate="no">consecutive failures=3<\/code> \(<span class="ok-text">en el frente de<\/span>/);
    assert.match(study, /recomendada <span class="muted">ninguna dentro del presupuesto de falsas alarmas<\/span>/);
    assert.match(frontRowsHtml([{setting: "x", current: true, false_off_per_hour: 1.5}]),
      /title="la configuración actual del laboratorio">★.*<td>1,50<\/td>/s);
    assert.equal(clearedKinds({cleared: []}), "ningún fallo activo");
    assert.equal(num(1234.5, 1), "1.234,5");
    assert.equal(ago(10, 13.25), "hace 3,3 s");
  } finally {
    useLanguage("en");
  }
});

test("a message fills its fields, and a key missing from the catalog shows as itself", () => {
  assert.equal(t("operator.injected", {kind: "crash", replica: 2}), "crash injected on inventory-2");
  assert.equal(t("no.such.key"), "no.such.key");
  assert.equal(languageCookie("es"), "faultlab_lang=es; path=/; max-age=31536000; samesite=lax");
});

test("say() says a recorded sentence from its code in the page's language: parameters, sentences inside, plurals", () => {
  const refused = said("detector_off", {evidence: said("evidence_refused"), detector: "error-rate"},
    "connection refused (error-rate detector)");
  const missed = said("phase_missed", {phase: "crash", missed: said("ttd_over", {ttd_ms: 2167, limit_ms: 2000})});
  useLanguage("es");
  try {
    assert.equal(say(refused), "conexión rechazada (detector error-rate)");
    assert.equal(say(missed), "crash: TTD 2.167 ms > 2.000 ms");  // numbers with the language's separators
    assert.equal(say(said("runs_missing", {done: 0, expected: 1})), "solo 0 de 1 ejecución de fase completada");
    assert.equal(say(said("runs_missing", {done: 0, expected: 12})), "solo 0 de 12 ejecuciones de fase completadas");
    assert.equal(say(said("no_order_status")), "el sistema no tiene GET /orders/{id}: no se puede verificar si las "
      + "órdenes salen de PENDING");  // {{ and }} are braces
    assert.equal(say(said("detected_by", {source: said("source_voter"), reason: [said("healthy"), said("healthy")]})),
      "votador: sana y al día; sana y al día");  // a list of sentences
    assert.equal(say({code: "converged_old_shape", replicas: 3, text: "the 3 replicas agree"}), "the 3 replicas agree");
    assert.equal(say("crash: no recovery (no TTR)"), "crash: no recovery (no TTR)");  // recorded before codes
    assert.equal(say(null), "");
    assert.equal(say(said("ttd_over", {ttd_ms: true, limit_ms: null})), "TTD sí ms > - ms");
    assert.equal(formatValue(91.25), "91,25");
    assert.equal(plotSeparators(), ",.");
  } finally {
    useLanguage("en");
  }
  assert.equal(say(refused), "connection refused (error-rate detector)");
  assert.equal(say(missed), "crash: TTD 2,167 ms > 2,000 ms");
  assert.equal(plotSeparators(), ".,");
  // counted by a list: one replica named is the singular, as the Python side renders it
  assert.match(say(said("phase_left_down", {replicas: [2]})), /^the phase left replica 2 down: .* bring it back$/);
  assert.match(say(said("phase_left_down", {replicas: [2, 3]})), /^the phase left replicas 2, 3 down: .* bring them back$/);
});
