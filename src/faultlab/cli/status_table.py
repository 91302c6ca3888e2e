"""`faultlab status` as a table that fits the terminal: every column when wide, the low-value ones dropped when narrow.

Rendering is separate from fetching (the CLI fetches through the API client), so a recorded status renders the
same at any width in a test.
"""

from __future__ import annotations

import time
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.i18n import N_, _

WIDE = 110  # every column: pid, address, since / last check with milliseconds
NARROW = 72  # below this the address and the times go too: process, state, restarts, detail


def fmt_time(ts: float | None, ms: bool = True) -> str:
    """Local wall-clock time of a UNIX timestamp (HH:MM:SS.mmm), "-" for none."""
    if not ts:
        return "-"
    text = time.strftime("%H:%M:%S", time.localtime(ts))
    return text + f".{int(ts * 1000) % 1000:03d}" if ms else text


def _ports(s: Settings) -> dict[str, int]:
    ports = {"orders": s.orders_port, "monitor": s.monitor_port, "voter": s.voter_port, "dashboard": s.dashboard_port,
             "broker": s.broker_port, "postgres": s.postgres_port}
    ports.update({f"inventory-{r}": s.replica_port(r) for r in s.replica_ids})
    return ports


def status_rows(processes: dict[str, Any], monitor: dict[str, Any], settings: Settings,
                wide: bool = True) -> list[dict[str, str]]:
    """One row per supervised process: name, pid, address, state (Rich markup), since/last check, restarts,
    detail."""
    states = {f"inventory-{i['replica']}": i for i in monitor.get("instances", [])}
    services = {s["service_name"].replace("-svc", ""): s for s in monitor.get("services", [])}
    ports = _ports(settings)
    rows = []
    for proc in processes["processes"]:
        name = proc["name"]
        host = (settings.service_hosts.get(name, "127.0.0.1") if name in ("broker", "postgres")
                else settings.service_host(name))
        address = f"{host}:{ports[name]}" if name in ports else "-"
        state, when, details = (_("running") if proc["running"] else "[red]" + _("down") + "[/]"), "-", []
        if name in states:
            inst = states[name]
            colour = {"ON": "green", "OFF": "red"}.get(inst["status"], "yellow")
            state = f"[{colour}]{inst['status']}[/]"
            when = (f"{fmt_time(inst['since'])} / {fmt_time(inst['last_check'])}" if wide
                    else fmt_time(inst["since"], ms=False))
            health = inst.get("health") or {}
            details.append(_("applied {seq}").format(seq=health.get("applied_seq", "-")))
            if inst.get("behind_ms"):
                details.append(_("behind {ms} ms").format(ms=f"{inst['behind_ms']:.0f}"))
            if health.get("faults"):
                details.append(_("fault: {kinds}").format(kinds=", ".join(health["faults"])))
            if inst["status"] != "ON" and inst.get("reason"):
                details[-1] += f" ({inst['reason']})"
        elif name in services:
            colour = "green" if services[name]["status"] == "ON" else "red"
            state = f"[{colour}]{services[name]['status']}[/]"
        if proc.get("spare_pid"):
            details.append(_("warm spare {pid}").format(pid=proc["spare_pid"]))
        rows.append({"process": name, "pid": str(proc["pid"] or "-"), "address": address, "state": state,
                     "when": when, "restarts": str(proc["restarts"]), "detail": ", ".join(details)})
    return rows


def status_table(processes: dict[str, Any], monitor: dict[str, Any], settings: Settings, width: int) -> Any:
    """The Rich table for a terminal `width` columns wide."""
    from rich import box
    from rich.table import Table

    host = processes.get("host", "127.0.0.1")
    wide, narrow = width >= WIDE, width < NARROW
    if wide:
        title = _("faultlab — services bound to {host} (loopback only unless FAULTLAB_HOST says so)")
        title = title.format(host=host)
    else:
        title = _("faultlab — services on {host}").format(host=host)
    # Wide: the full table. Narrower: no pid, the state change time without milliseconds and no vertical rules.
    # Narrow: no address and no time either; the detail always wraps, the names and states never do.
    columns = [("process", _("process"), True), ("pid", _("pid"), True), ("address", _("address"), True),
               ("state", _("state"), True), ("when", _("since / last check") if wide else _("since"), True),
               ("restarts", _("restarts"), True), ("detail", _("detail"), False)]
    if not wide:
        columns = [c for c in columns if c[0] != "pid"]
    if narrow:
        columns = [c for c in columns if c[0] not in ("address", "when")]
    table = Table(title=title, box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD, pad_edge=wide,
                  collapse_padding=not wide)
    for key, header, no_wrap in columns:
        table.add_column(header, no_wrap=no_wrap, overflow="fold", justify="right" if key == "restarts" else "left")
    for row in status_rows(processes, monitor, settings, wide=wide):
        table.add_row(*(row[key] for key, _header, _no_wrap in columns))
    return table


# The readers' reasons for setting a record aside (bus's vocabulary and the monitor's own), in the reader's language.
REASONS = {
    "other epoch": N_("other epoch"), "seen before": N_("seen before"), "bad signature": N_("bad signature"),
    "not signed": N_("not signed"), "not JSON": N_("not JSON"), "not a JSON object": N_("not a JSON object"),
    "malformed": N_("malformed"), "kind a replica cannot report": N_("kind a replica cannot report"),
    "too old or from the future": N_("too old or from the future"),
}


def _reason(why: str) -> str:
    return _(REASONS[why]) if why in REASONS else why


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{_reason(why)}: {n}" for why, n in sorted(counts.items()))


def untrusted_line(monitor: dict[str, Any]) -> str | None:
    """The records the lab set aside (error queue, order events, results), by reason, and the events consumed as
    INVALID, as one line; None when there are none."""
    rejected = monitor.get("rejected_records") or {}
    instances = monitor.get("instances", [])
    by_reason: dict[str, int] = {}
    for instance in instances:
        for why, n in (instance.get("set_aside_by_reason") or {}).items():
            by_reason[why] = by_reason.get(why, 0) + n
    set_aside = sum(i.get("set_aside", 0) for i in instances)
    if set_aside > sum(by_reason.values()):  # reported by a replica that gave no reason
        by_reason["?"] = set_aside - sum(by_reason.values())
    results = monitor.get("results_set_aside") or {}
    invalid = sum(i.get("invalid_events", 0) or 0 for i in instances)
    if not rejected and not by_reason and not results and not invalid:
        return None
    parts = []
    if rejected:
        parts.append(_("error-queue: {counts}").format(counts=_counts(rejected)))
    if by_reason:
        parts.append(_("order-events (the replicas' reports): {counts}").format(counts=_counts(by_reason)))
    if results:
        parts.append(_("inventory-results: {counts}").format(counts=_counts(results)))
    line = "[yellow]" + _("records the lab set aside:") + "[/] " + "; ".join(parts) if parts else ""
    if invalid:
        line += ("; " if line else "") + "[yellow]" + _("events consumed as INVALID (the replicas' reports):") \
            + f"[/] {invalid}"
    return line


def print_status(console: Any, processes: dict[str, Any], monitor: dict[str, Any], settings: Settings) -> None:
    """The status table and the untrusted-records line, fitted to the console's width."""
    console.print(status_table(processes, monitor, settings, console.width))
    line = untrusted_line(monitor)
    if line:
        console.print(line)


__all__ = ["fmt_time", "print_status", "status_rows", "status_table", "untrusted_line"]
