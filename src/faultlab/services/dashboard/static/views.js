// What the live page shows, as HTML strings and plain decisions from the snapshot's data (no DOM here).

import {ago, clock, esc, num} from "./common.js";

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
  return `<div class="top"><span class="name">inventory-${esc(inst.replica)}</span>
      <span class="badge" data-status="${esc(inst.status)}">${esc(inst.status)}</span></div>
      <dl><dt>since</dt><dd>${clock(inst.since)}${inst.reason ? ` · ${esc(inst.reason)}` : ""}</dd>
      <dt>last check</dt><dd>${clock(inst.last_check)} (${ago(inst.last_check, now)})</dd>
      <dt>applied position</dt><dd>event ${esc(inst.applied_seq ?? "—")} · offset ${esc(inst.offset ?? "—")}
        of ${esc(inst.log_end ?? "—")} (lag ${esc(inst.lag ?? "—")})</dd>
      <dt>active fault</dt><dd class="${faulty ? "fault" : ""}">${esc(faults)}</dd>
      <dt>pid</dt><dd>${esc(inst.pid ?? "—")}</dd>
      <dt>detector</dt><dd>${esc(inst.detector ?? "—")}${dissent.length ? ` · ${esc(dissent.join(", "))} says OFF` : ""}
        ${inst.recent_wrong ? ` · <span class="fault">voter: ${esc(inst.recent_wrong)} wrong answers in 3 s</span>` : ""}
        </dd></dl>`;
}

/** The services panel: one line per service with its /health state and round-trip time. */
export function servicesHtml(services) {
  return services.map((s) => `<div class="svc" data-service="${esc(s.name)}">
    <span><span class="dot" data-status="${esc(s.status)}"></span><b>${esc(s.name)}</b></span>
    <span>${esc(s.status)} · ${num(s.rtt_ms, 0)} ms</span></div>`).join("");
}

/** The voting panel from the voter's /voting/stats (null: the voter does not answer). */
export function votingHtml(v) {
  if (!v) return '<span class="muted">voter not answering</span>';
  const lat = v.latency_ms || {};
  const outliers = v.outliers_by_replica || {};
  const most = Math.max(1, ...Object.values(outliers));
  const rows = Object.entries(v.replicas || {}).map(([r, s]) => {
    const failures = Object.values(s.failures || {}).reduce((a, b) => a + b, 0);
    const out = outliers[r] || 0;
    return `<tr><td>inventory-${esc(r)}</td><td>${esc(out)} <span class="bar" style="width:${Math.round(80 * out / most)}px">
      </span></td><td>${esc(s.wrong)}</td><td>${esc(s.slow)}</td><td>${failures}</td><td>${esc(s.agreed)}</td>
      <td>${esc(s.behind)}</td><td>${num(s.median_latency_ms, 2)}</td></tr>`;
  }).join("");
  return `<div class="stat"><div class="v" id="quorum-rate">${num(v.quorum_rate, 2)}%</div>
      <div class="k">quorum rate</div></div>
    <div class="stat"><div class="v">${esc(v.total_votes)}</div><div class="k">voted reads</div></div>
    <div class="stat"><div class="v">${esc(v.quorum_not_reached)}</div><div class="k">quorum not reached</div></div>
    <div class="stat"><div class="v">${esc(v.votes_needed)}/${esc(v.fan_out)}</div><div class="k">votes needed / fan-out</div></div>
    <div class="stat"><div class="v">${num(lat.p50, 1)} / ${num(lat.p99, 1)}</div><div class="k">vote p50 / p99 ms</div></div>
    <table class="table" id="outliers"><thead><tr><th>replica</th><th>outliers</th><th>wrong</th><th>slow</th>
      <th>failed</th><th>agreed</th><th>behind</th><th>median ms</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The recent-failures table body: the last 30 episodes, newest first. */
export function failureRowsHtml(failures) {
  const rows = failures.slice(-30).reverse().map((e) => `<tr data-replica="${esc(e.replica)}">
    <td>inventory-${esc(e.replica)}</td><td>${esc(e.fault_kind ?? "—")}</td><td>${clock(e.activated_at)}</td>
    <td>${clock(e.detected_at)}</td><td>${esc(e.detected_by ?? "—")}</td><td>${num(e.ttd_ms, 1)}</td>
    <td>${clock(e.cleared_at)}</td><td>${clock(e.recovered_at)}</td><td>${num(e.ttr_ms, 1)}</td></tr>`);
  return rows.join("") || '<tr><td colspan="9" class="muted">no fault episodes yet</td></tr>';
}

/** One monitor event as a line of HTML. */
export function describeEvent(e) {
  if (e.type === "state") {
    return `replica ${esc(e.replica)} → <b>${esc(e.status)}</b> (${esc(e.reason)}, ${esc(e.source)})`;
  }
  if (e.type === "episode") {
    if (e.phase === "detected") {
      return `replica ${esc(e.replica)} fault ${esc(e.fault_kind ?? "")} <b>${esc(e.phase)}</b> TTD ${num(e.ttd_ms, 1)} ms`;
    }
    if (e.phase === "recovered") {
      return `replica ${esc(e.replica)} fault ${esc(e.fault_kind ?? "")} <b>${esc(e.phase)}</b> TTR ${num(e.ttr_ms, 1)} ms`;
    }
    return `replica ${esc(e.replica)} fault ${esc(e.fault_kind ?? "")} <b>${esc(e.phase)}</b>`;
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
  const code = x.exit_code === null || x.exit_code === undefined ? "" : ` (exit ${x.exit_code})`;
  return {
    key: `${x.state}|${x.exit_code}|${x.lines}|${x.running}`,  // what changes the view
    state: `${x.state}${code}${x.running ? ` · pid ${x.pid} · ${x.lines} lines` : ""}`,
    startDisabled: Boolean(x.running),
    stopDisabled: !x.running,
    output: (x.output || []).join("\n"),
  };
}
