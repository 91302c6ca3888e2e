"""A replica's card on the dashboard's page: the monitor's state, SUSPECT when the replica shows signs of being wrong,
and what the page shows beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WRONG_RECENT_S = 3.0  # a replica the voter caught answering wrong values this recently is SUSPECT while ON


def card_status(instance: dict[str, Any], recent_wrong: int = 0) -> str:
    """ON / OFF / UNKNOWN as the monitor decided, or SUSPECT: ON, but it fell behind, or the voter saw wrong values
    from it (the monitor's value suspicion, or wrong answers counted in the voter's stats within WRONG_RECENT_S)."""
    status = str(instance.get("status") or "UNKNOWN")
    if status != "ON":
        return status
    if instance.get("value_suspect") or not instance.get("caught_up", True) or recent_wrong > 0:
        return "SUSPECT"
    return "ON"


def instance_card(instance: dict[str, Any], recent_wrong: int = 0) -> dict[str, Any]:
    """One replica's card: state, last check, applied position, active fault, and why. A row of faultlab's observer
    (a system faultlab did not start) carries the system monitor's state beside the observer's own: the card shows the
    monitor's, with the observer's and the system's instance id beside it."""
    health = instance.get("health") or {}
    episode = instance.get("open_episode") or {}
    observed = "monitor_status" in instance
    monitor = (instance.get("monitor_status") or "UNKNOWN") if observed else instance.get("status")
    return {
        "replica": instance["replica"],
        "status": card_status({**instance, "status": monitor} if observed else instance, recent_wrong),
        "recent_wrong": recent_wrong,
        "monitor_status": monitor,
        "observer_status": instance.get("status") if observed else None,
        "instance_id": instance.get("instance_id") if observed else None,
        "since": instance.get("monitor_since") if observed else instance.get("since"),
        "reason": instance.get("reason"),
        "last_check": instance.get("last_check"),
        "applied_seq": health.get("applied_seq"),
        "offset": health.get("offset"),
        "log_end": health.get("log_end"),
        "lag": health.get("lag"),
        "pid": health.get("pid"),
        "faults": list(health.get("faults") or []),
        "open_fault": episode.get("fault_kind"),
        "open_episode_start": episode.get("activated_at") or episode.get("detected_at"),
        "caught_up": instance.get("caught_up"),
        "value_suspect": instance.get("value_suspect"),
        "detector": instance.get("detector"),
        "shadow_off": sorted(n for n, s in (instance.get("shadow_status") or {}).items() if s == "OFF"),
    }


def wrong_recently(history: Sequence[tuple[float, dict[int, int]]], replica: int) -> int:
    """Wrong answers the voter counted for this replica within the last WRONG_RECENT_S, from its counts over time
    (monotonic time, wrong answers by replica), oldest first."""
    if not history:
        return 0
    newest_at, newest = history[-1]
    base = next((counts for at, counts in history if newest_at - at <= WRONG_RECENT_S), newest)
    return max(0, newest.get(replica, 0) - base.get(replica, 0))
