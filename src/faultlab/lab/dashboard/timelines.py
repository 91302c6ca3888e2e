"""The live page's episode timelines: the current and recent episodes drawn from the services' memory — the
monitor's recent observations (`GET /trace/recent`, the last minute), its episodes (`/failures`) and the state
events the dashboard followed — built on request (the page asks when an episode changes, and every few seconds while
one is open), never on a timer of the dashboard's own.
"""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.lab.timeline import build_timeline, replay

RECENT_EPISODES = 3  # the newest episodes shown (an open one among them)


def _start(episode: dict[str, Any]) -> float | None:
    times = [episode.get(k) for k in ("activated_at", "detected_at", "cleared_at", "recovered_at")]
    known = [t for t in times if t is not None]
    return min(known) if known else None


def live_timelines(settings: Settings, failures: list[dict[str, Any]], observations: list[dict[str, Any]],
                   events: list[dict[str, Any]], kept_from: float | None) -> list[dict[str, Any]]:
    """The newest RECENT_EPISODES episodes that began after the oldest kept observation (`kept_from`), newest
    first, each as its timeline: the monitor lane from the followed state events, the checks, detectors and voter
    from the observations replayed (each replica once); an episode older than the memory is left out rather than
    drawn with empty lanes."""
    shown = [e for e in failures if (start := _start(e)) is not None and kept_from is not None
             and start - 1.0 >= kept_from]
    shown = sorted(shown, key=lambda e: _start(e) or 0.0)[-RECENT_EPISODES:]
    states = [e for e in events if e.get("type") == "state"]
    replays = {r: replay(observations, r, settings) for r in sorted({int(e["replica"]) for e in shown})}
    docs = [build_timeline(e, settings, replayed=replays[int(e["replica"])], monitor_events=states or None,
                           injected_at=e.get("sent_at")) for e in shown]
    return list(reversed(docs))
