// Operator controls: the admin token (kept in this tab's sessionStorage, sent only to this dashboard), inject and
// clear faults, start and stop a short experiment.

import {$} from "./common.js";
import {lang, t} from "./i18n.js";

export const TOKEN_KEY = "faultlab-admin-token";

/** The POST /api/faults body for the form's values (each kind takes only its own parameter). */
export function faultBody(replica, kind, values) {
  const body = {replica: Number(replica), kind};
  if (kind === "latency") body.latency_ms = Number(values.latency);
  if (kind === "intermittent") body.probability = Number(values.probability);
  if (kind === "incorrect") body.product_id = String(values.product).trim();
  return body;
}

/** What DELETE /api/faults cleared, as a list of fault kinds ("nothing active" when none). */
export function clearedKinds(data) {
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

function showParams() {
  const kind = $("#fault-kind").value;
  document.querySelectorAll(".param").forEach((el) => { el.hidden = el.dataset.for !== kind; });
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
  showParams();
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
    const kind = $("#fault-kind").value;
    const body = faultBody($("#fault-replica").value, kind, {latency: $("#fault-latency").value,
      probability: $("#fault-probability").value, product: $("#fault-product").value});
    const r = await operatorCall("POST", "/api/faults", body);
    showResult(r.ok ? t("operator.injected", {kind, replica: body.replica})
      : t("operator.not_injected", {status: r.status, error: r.data.error}), r.ok);
  });
  $("#clear").addEventListener("click", async () => {
    const replica = $("#fault-replica").value;
    const r = await operatorCall("DELETE", `/api/faults?replica=${encodeURIComponent(replica)}`);
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
