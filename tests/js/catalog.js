// The dashboard's JSON catalogs for the node tests: the pages get theirs from a block the dashboard renders. The
// recorded sentences' codes come from the gettext catalogs (core/codes.py) in that block; the tests use a few of
// them, written out here as the block carries them (a message, or [singular, plural, count parameter]).
import {readFileSync} from "node:fs";

import {useCatalog} from "../../src/faultlab/lab/dashboard/static/i18n.js";

export const LOCALE = new URL("../../src/faultlab/lab/dashboard/locale/", import.meta.url);

export const CODES = {
  en: {healthy: "healthy and caught up", detector_off: "{evidence} ({detector} detector)",
    evidence_refused: "connection refused", detected_by: "{source}: {reason}", source_voter: "voter",
    source_monitor: "monitor", phase_missed: "{phase}: {missed}", ttd_over: "TTD {ttd_ms} ms > {limit_ms} ms",
    runs_missing: ["only {done} of {expected} phase run completed", "only {done} of {expected} phase runs completed",
      "expected"],
    no_order_status: "the system has no GET /orders/{{id}}: whether orders leave PENDING cannot be checked",
    phase_left_down: ["the phase left replica {replicas} down: the system has no way to bring it back",
      "the phase left replicas {replicas} down: the system has no way to bring them back", "replicas"]},
  es: {healthy: "sana y al día", detector_off: "{evidence} (detector {detector})",
    evidence_refused: "conexión rechazada", detected_by: "{source}: {reason}", source_voter: "votador",
    source_monitor: "monitor", phase_missed: "{phase}: {missed}", ttd_over: "TTD {ttd_ms} ms > {limit_ms} ms",
    runs_missing: ["solo {done} de {expected} ejecución de fase completada",
      "solo {done} de {expected} ejecuciones de fase completadas", "expected"],
    no_order_status: "el sistema no tiene GET /orders/{{id}}: no se puede verificar si las órdenes salen de PENDING"},
};

/** The messages of one language, by key. */
export function messages(lang) {
  return JSON.parse(readFileSync(new URL(`${lang}.json`, LOCALE), "utf8"));
}

/** Make the pages' modules speak `lang` (as a page rendered in that language would). */
export function useLanguage(lang) {
  useCatalog(lang, messages(lang), CODES[lang]);
}

/** A recorded sentence as the lab records it (its English text as the English catalog says it). */
export function said(code, params = {}, text = `(${code})`) {
  return {code, params, text};
}
