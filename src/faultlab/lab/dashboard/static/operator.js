// Operator controls: the admin token (kept in this tab's sessionStorage, sent only to this dashboard), inject and
// clear faults, start and stop a short experiment.

import {$, esc} from "./common.js";
import {lang, t} from "./i18n.js";

export const TOKEN_KEY = "faultlab-admin-token";

/** The kind's entry in the fault registry (GET /api/fault-kinds), or undefined. */
export function kindOf(kinds, name) {
  return kinds.find((k) => k.kind === name);
}

/** The fields of a kind the form shows (the registry names them: its scalar parameters). */
export function formFields(spec) {
  return spec.fields.filter((f) => spec.form.includes(f.name));
}

/**
 * The POST /api/faults body for the form's values: the kind's own form fields only (numbers where the kind's model
 * wants numbers); an empty field is left out, so the kind's default applies.
 */
export function faultBody(replica, spec, values) {
  const body = {replica: Number(replica), kind: spec.kind};
  for (const field of formFields(spec)) {
    const raw = values[field.name];
    if (raw === undefined || raw === null || String(raw).trim() === "") continue;
    body[field.name] = field.type === "number" || field.type === "integer" ? Number(raw) : String(raw).trim();
  }
  return body;
}

/** The inputs of one kind's parameters, as HTML (each named by its parameter, its meaning as the tooltip). */
export function paramInputsHtml(spec) {
  return formFields(spec).map((f) => {
    const numeric = f.type === "number" || f.type === "integer";
    const limits = numeric ? `${f.minimum ?? null} ${f.maximum ?? null}`.split(" ")
      .map((v, i) => (v === "null" ? "" : ` ${i ? "max" : "min"}="${esc(v)}"`)).join("") : "";
    const step = f.type === "integer" ? ' step="1"' : numeric ? ' step="any"' : "";
    return `<label class="param" title="${esc(f.description)}"><span translate="no">${esc(f.name)}</span> `
      + `<input id="fault-${esc(f.name)}" data-param="${esc(f.name)}" type="${numeric ? "number" : "text"}"`
      + `${limits}${step} value="${esc(f.default ?? "")}"></label>`;
  }).join("");
}

/** The <option>s of the kind list: every registered kind, its summary as the tooltip. */
export function kindOptionsHtml(kinds) {
  return kinds.map((k) => `<option value="${esc(k.kind)}" title="${esc(k.summary)}">${esc(k.kind)}</option>`).join("");
}

/**
 * The DELETE /api/faults URL of the clear button: every fault the replica holds, or — for a kind applied elsewhere
 * (the supervisor's network and process faults) — that kind where it was applied.
 */
export function clearUrl(replica, spec) {
  const base = `/api/faults?replica=${encodeURIComponent(replica)}`;
  return spec && spec.target !== "replica" ? `${base}&kind=${encodeURIComponent(spec.kind)}` : base;
}

/** What DELETE /api/faults cleared, as a list of fault kinds ("nothing active" when none). */
export function clearedKinds(data) {
  if (data.started) return "stop";  // a stopped replica started again: its stop fault is cleared
  return (data.cleared || []).map((f) => f.kind).join(", ") || t("operator.nothing_active");
}

/** The experiment's description in an /api/experiment answer (POST and DELETE wrap it, GET does not). */
export function experimentOf(response) {
  if (response.data.experiment) return response.data.experiment;
  return response.ok ? response.data : null;
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function operatorCall(method, url, body) {
  const headers = {"Authorization": `Bearer ${token()}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin", cache: "no-store"});
  let data;
  try { data = await resp.json(); } catch { data = {error: `HTTP ${resp.status}`}; }
  return {ok: resp.ok, status: resp.status, data};
}

function showResult(text, ok) {
  const el = $("#fault-result");
  el.textContent = text;
  el.className = `result ${ok ? "ok" : "err"}`;
}

function showTokenState() {
  $("#token-state").textContent = token() ? t("operator.token_set") : t("operator.no_token");
}

let KINDS = [];

function showParams() {
  const spec = kindOf(KINDS, $("#fault-kind").value);
  $("#fault-params").innerHTML = spec ? paramInputsHtml(spec) : "";
}

function formValues() {
  const values = {};
  document.querySelectorAll("#fault-params [data-param]").forEach((el) => { values[el.dataset.param] = el.value; });
  return values;
}

/** The fault registry the page carries (the dashboard renders it in, in the page's language; the same as GET
 * /api/fault-kinds). */
function loadKinds() {
  try {
    KINDS = JSON.parse($("#fault-kinds").textContent).kinds;
    $("#fault-kind").innerHTML = kindOptionsHtml(KINDS);
    showParams();
  } catch (err) {
    showResult(t("operator.kinds_unavailable", {error: err.message}), false);
  }
}

/** The replica list of the fault form, filled once the snapshot names the replicas. */
export function fillReplicaSelect(replicas) {
  const select = $("#fault-replica");
  if (select.options.length === replicas.length) return;
  select.replaceChildren(...replicas.map((r) => new Option(`inventory-${r}`, String(r))));
}

/** Wires the token, fault and experiment forms; `renderExperiment` shows an experiment's description. */
export function setupOperator(renderExperiment) {
  showTokenState();
  loadKinds();
  $("#fault-kind").addEventListener("change", showParams);
  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = $("#token").value.trim();
    $("#token").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    const r = await operatorCall("GET", "/api/auth");
    if (!r.ok) sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
    showResult(r.ok ? t("operator.token_accepted") : t("operator.token_refused", {error: r.data.error}), r.ok);
  });
  $("#forget-token").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showTokenState(); });
  $("#fault-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const spec = kindOf(KINDS, $("#fault-kind").value);
    if (!spec) return;
    const body = faultBody($("#fault-replica").value, spec, formValues());
    const r = await operatorCall("POST", "/api/faults", body);
    showResult(r.ok ? t("operator.injected", {kind: spec.kind, replica: body.replica})
      : t("operator.not_injected", {status: r.status, error: r.data.error}), r.ok);
  });
  $("#clear").addEventListener("click", async () => {
    const replica = $("#fault-replica").value;
    const r = await operatorCall("DELETE", clearUrl(replica, kindOf(KINDS, $("#fault-kind").value)));
    showResult(r.ok ? t("operator.cleared", {replica, kinds: clearedKinds(r.data)})
      : t("operator.not_cleared", {status: r.status, error: r.data.error}), r.ok);
  });
  $("#experiment-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phases = $("#experiment-phases").value.trim();
    const r = await operatorCall("POST", "/api/experiment", phases ? {phases, lang: lang()} : {lang: lang()});
    const x = experimentOf(r);
    if (x) renderExperiment(x);
    showResult(r.ok ? t("operator.started") : t("operator.not_started", {status: r.status, error: r.data.error}), r.ok);
  });
  $("#experiment-stop").addEventListener("click", async () => {
    const r = await operatorCall("DELETE", "/api/experiment");
    const x = experimentOf(r);
    if (x) renderExperiment(x);
    showResult(r.ok ? t("operator.interrupted") : t("operator.not_stopped", {status: r.status, error: r.data.error}),
      r.ok);
  });
}
