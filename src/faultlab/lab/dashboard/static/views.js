// What the live page shows, as HTML strings and plain decisions from the snapshot's data (no DOM here).

import {ago, clock, esc, num} from "./common.js";
import {say, t} from "./i18n.js";

/** A card's decisions: the active fault text, whether to mark it, and the shadow detectors that disagree. */
export function cardView(inst) {
  const active = inst.faults && inst.faults.length ? inst.faults : null;
  return {
    faults: active ? active.join(", ") : (inst.open_fault || "none"),
    faulty: Boolean(active || inst.open_fault),
    // shadow detectors that disagree with an ON (they run on the same evidence, for comparison)
    dissent: inst.monitor_status === "ON" ? (inst.shadow_off || []).filter((d) => d !== inst.detector) : [],
  };
}

/** The inside of one replica's card. */
export function cardHtml(inst, now) {
  const {faults, faulty, dissent} = cardView(inst);
  const position = t("card.position_value", {seq: esc(inst.applied_seq ?? "—"), offset: esc(inst.offset ?? "—"),
    end: esc(inst.log_end ?? "—"), lag: esc(inst.lag ?? "—")});
  // a system faultlab did not start: its own instance id, and faultlab's observer's state beside its monitor's
  const name = inst.instance_id && inst.instance_id !== String(inst.replica)
    ? `inventory-${esc(inst.replica)} · ${esc(inst.instance_id)}` : `inventory-${esc(inst.replica)}`;
  const observer = inst.observer_status ? `<dt>${t("card.observer")}</dt><dd><span class="badge" data-status="${
    esc(inst.observer_status)}">${esc(inst.observer_status)}</span> ${t("card.observer_note")}</dd>` : "";
  return `<div class="top"><span class="name" translate="no">${name}</span>
      <span class="badge" data-status="${esc(inst.status)}">${esc(inst.status)}</span></div>
      <dl>${observer}<dt>${t("card.since")}</dt><dd>${clock(inst.since)}${inst.reason ? ` · <span class="reason">${esc(say(inst.reason))}</span>` : ""}</dd>
      <dt>${t("card.last_check")}</dt><dd>${clock(inst.last_check)} (${ago(inst.last_check, now)})</dd>
      <dt>${t("card.position")}</dt><dd>${position}</dd>
      <dt>${t("card.fault")}</dt><dd class="${faulty ? "fault" : ""}">${faulty ? esc(faults) : t("card.none")}</dd>
      <dt>${t("card.pid")}</dt><dd translate="no">${esc(inst.pid ?? "—")}</dd>
      <dt>${t("card.detector")}</dt><dd><span translate="no">${esc(inst.detector ?? "—")}</span>${dissent.length ? ` · ${t("card.says_off", {detectors: esc(dissent.join(", "))})}` : ""}
        ${inst.recent_wrong ? ` · <span class="fault">${t("card.wrong", {n: num(inst.recent_wrong, 0)})}</span>` : ""}
        </dd></dl>`;
}

/** The services panel: one line per service with its /health state and round-trip time. */
export function servicesHtml(services) {
  return services.map((s) => `<div class="svc" data-service="${esc(s.name)}">
    <span><span class="dot" data-status="${esc(s.status)}"></span><b translate="no">${esc(s.name)}</b></span>
    <span>${esc(s.status)} · ${num(s.rtt_ms, 0)} ms</span></div>`).join("");
}

/** Every number in a JSON answer, as [dotted path, value] pairs in the answer's order (nested objects followed). */
export function numberLeaves(value, prefix = "", depth = 0) {
  if (typeof value === "number" && Number.isFinite(value)) return [[prefix, value]];
  if (!value || typeof value !== "object" || Array.isArray(value) || depth > 3) return [];
  return Object.entries(value).flatMap(([k, v]) => numberLeaves(v, prefix ? `${prefix}.${k}` : k, depth + 1));
}

// The names a system's own voter may give its figures (the guide leaves /voting/stats' layout open).
const OTHER_NAMES = {
  votes: ["total_votes", "total_requests", "total_reads", "requests", "total"],
  reached: ["quorum_reached", "successful_votes"],
  not_reached: ["quorum_not_reached", "quorum_failed", "failed_votes", "no_quorum"],
  needed: ["votes_needed", "required_quorum", "quorum"],
  fan_out: ["fan_out", "replicas_count", "instances"],
  outliers: ["outliers_detected", "outliers"],
  time_ms: ["total_time_ms", "total_response_time_ms"],
  mean_ms: ["avg_response_time", "avg_response_time_ms", "average_response_time_ms", "mean_ms", "avg_ms"],
};

/** The figures named `names` says, found at any depth of a system voter's answer (the first name that is there). */
export function otherVoting(v) {
  const leaves = new Map(numberLeaves(v).map(([path, value]) => [path.split(".").pop(), value]));
  const pick = (names) => names.map((n) => leaves.get(n)).find((x) => x !== undefined);
  const f = Object.fromEntries(Object.entries(OTHER_NAMES).map(([k, names]) => [k, pick(names)]));
  const decided = f.reached !== undefined && f.not_reached !== undefined ? f.reached + f.not_reached : f.votes;
  return {...f, rate: f.reached !== undefined && decided ? 100 * f.reached / decided : undefined,
    mean_ms: f.mean_ms ?? (f.time_ms !== undefined && f.votes ? f.time_ms / f.votes : undefined)};
}

/** The voting panel of a system faultlab did not build: the figures it could name, then every number its voter says,
 * with the voter's own names (the guide does not fix the layout of /voting/stats). */
function otherVotingHtml(v) {
  const f = otherVoting(v);
  const stat = (value, digits, key, suffix = "") => value === undefined ? ""
    : `<div class="stat"><div class="v">${num(value, digits)}${suffix}</div><div class="k">${t(key)}</div></div>`;
  const needed = f.needed !== undefined || f.fan_out !== undefined
    ? `<div class="stat"><div class="v">${num(f.needed, 0)}/${num(f.fan_out, 0)}</div><div class="k">${t("voting.votes_needed")}</div></div>` : "";
  const rows = numberLeaves(v).slice(0, 30).map(([path, value]) =>
    `<tr><td translate="no">${esc(path)}</td><td>${num(value, Number.isInteger(value) ? 0 : 2)}</td></tr>`).join("");
  return `${stat(f.rate, 2, "voting.quorum_rate", "%")}${stat(f.votes, 0, "voting.voted_reads")}
    ${stat(f.not_reached, 0, "voting.quorum_not_reached")}${needed}${stat(f.outliers, 0, "col.outliers")}
    ${stat(f.mean_ms, 1, "voting.mean_ms")}
    <p class="muted">${t("voting.own_layout")}</p>
    <table class="table" id="voter-figures"><thead><tr><th>${t("col.figure")}</th><th>${t("col.value")}</th></tr></thead>
      <tbody>${rows}</tbody></table>`;
}

/** The voting panel from the voter's /voting/stats (null: the voter does not answer). */
export function votingHtml(v) {
  if (!v) return `<span class="muted">${t("voting.not_answering")}</span>`;
  if (v.total_votes === undefined && v.replicas === undefined) return otherVotingHtml(v);
  const lat = v.latency_ms || {};
  const outliers = v.outliers_by_replica || {};
  const most = Math.max(1, ...Object.values(outliers));
  const rows = Object.entries(v.replicas || {}).map(([r, s]) => {
    const failures = Object.values(s.failures || {}).reduce((a, b) => a + b, 0);
    const out = outliers[r] || 0;
    return `<tr><td translate="no">inventory-${esc(r)}</td><td>${num(out, 0)} <span class="bar" style="width:${Math.round(80 * out / most)}px">
      </span></td><td>${num(s.wrong, 0)}</td><td>${num(s.slow, 0)}</td><td>${num(failures, 0)}</td><td>${num(s.agreed, 0)}</td>
      <td>${num(s.behind, 0)}</td><td>${num(s.median_latency_ms, 2)}</td></tr>`;
  }).join("");
  return `<div class="stat"><div class="v" id="quorum-rate">${num(v.quorum_rate, 2)}%</div>
      <div class="k">${t("voting.quorum_rate")}</div></div>
    <div class="stat"><div class="v">${num(v.total_votes, 0)}</div><div class="k">${t("voting.voted_reads")}</div></div>
    <div class="stat"><div class="v">${num(v.quorum_not_reached, 0)}</div><div class="k">${t("voting.quorum_not_reached")}</div></div>
    <div class="stat"><div class="v">${num(v.votes_needed, 0)}/${num(v.fan_out, 0)}</div><div class="k">${t("voting.votes_needed")}</div></div>
    <div class="stat"><div class="v">${num(lat.p50, 1)} / ${num(lat.p99, 1)}</div><div class="k">${t("voting.latency")}</div></div>
    <table class="table" id="outliers"><thead><tr><th>${t("col.replica")}</th><th>${t("col.outliers")}</th>
      <th>${t("col.wrong")}</th><th>${t("col.slow")}</th><th>${t("col.failed")}</th><th>${t("col.agreed")}</th>
      <th>${t("col.behind")}</th><th>${t("col.median_ms")}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The recent-failures table body: the last 30 episodes, newest first. */
export function failureRowsHtml(failures) {
  const rows = failures.slice(-30).reverse().map((e) => `<tr data-replica="${esc(e.replica)}">
    <td translate="no">inventory-${esc(e.replica)}</td><td translate="no">${esc(e.fault_kind ?? "—")}</td><td>${clock(e.activated_at)}</td>
    <td>${clock(e.detected_at)}</td><td>${esc(say(e.detected_by) || "—")}</td><td>${num(e.ttd_ms, 1)}</td>
    <td>${clock(e.cleared_at)}</td><td>${clock(e.recovered_at)}</td><td>${num(e.ttr_ms, 1)}</td></tr>`);
  return rows.join("") || `<tr><td colspan="9" class="muted">${t("failures.none")}</td></tr>`;
}

/** One monitor event as a line of HTML: the monitor's reasons said in the page's language (identifiers as they are). */
export function describeEvent(e) {
  const data = (value) => `<span translate="no">${esc(value)}</span>`;  // identifiers: a fault kind, a phase
  if (e.type === "state") {
    return t("event.state", {replica: esc(e.replica), status: esc(e.status), reason: esc(say(e.reason) || "—"),
      source: esc(say({code: `source_${e.source}`, text: e.source ?? "—"}))});  // the lab's services in words
  }
  if (e.type === "episode") {
    const params = {replica: esc(e.replica), kind: data(e.fault_kind ?? ""), ttd: num(e.ttd_ms, 1),
      ttr: num(e.ttr_ms, 1), phase: data(e.phase), by: esc(say(e.detected_by) || "—")};
    const key = `event.${e.phase}`;
    return t(["detected", "recovered", "opened", "cleared"].includes(e.phase) ? key : "event.other", params);
  }
  return esc(JSON.stringify(e).slice(0, 160));
}

// An episode event carries the whole episode; its moment is the one its phase names.
const EPISODE_TIME = {opened: "activated_at", detected: "detected_at", cleared: "cleared_at", recovered: "recovered_at"};

/** The moment an event list line shows: the event's own time, else the time of the episode phase it reports. */
export function eventTime(e) {
  return e.at || e[EPISODE_TIME[e.phase]] || e.detected_at || e.activated_at;
}

/** The experiment line and buttons from /api/experiment's description. */
export function experimentView(x) {
  const code = x.exit_code === null || x.exit_code === undefined ? "" : ` ${t("experiment.exit", {code: x.exit_code})}`;
  const known = ["idle", "running", "finished", "missed", "interrupted", "failed"].includes(x.state);
  return {
    key: `${x.state}|${x.exit_code}|${x.lines}|${x.running}`,  // what changes the view
    state: `${known ? t(`experiment.state.${x.state}`) : x.state}${code}`
      + (x.running ? ` · ${t("experiment.running", {pid: x.pid, lines: x.lines})}` : ""),
    startDisabled: Boolean(x.running),
    stopDisabled: !x.running,
    output: (x.output || []).join("\n"),
  };
}
