"""The monitor's observation trace: while a recording is open, every observation it ingests, numbered, as it arrived.

The detector study opens a recording (`POST /trace`), reads it as it grows (`GET /trace?since=N`) into files in
its run folder, and closes it (`DELETE /trace`). A recording is a lease: nobody reading it for `lease_s` (the
study died) closes it and forgets its entries, and the buffer is bounded (the oldest entries go first, counted as
dropped), so a forgotten recording costs the monitor nothing for long.

Apart from any recording, the last RECENT_S seconds of observations stay in memory (a bounded ring, filled as they
arrive, no timer): the dashboard draws the current and recent episodes' timelines from them (`GET /trace/recent`).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from aiohttp import web

from faultlab.core.web import ApiError

MAX_ENTRIES = 50_000  # ~6 minutes of a lab under load (~130 observations/s); a study reads every 0.5 s
# What a replay needs of each observation: the evidence itself and, from probes, the staleness verdict (the same for
# every detector setting, and a detection of its own: without it a replay misses every stale fault).
KEPT = ("replica", "kind", "ok", "at", "source", "count", "rtt_ms", "caught_up", "products", "fault", "code",
        "applied_seq", "behind_ms", "stale", "stale_reason")
RECENT_S = 60.0  # the recent observations kept outside recordings
RECENT_ENTRIES = 12_000  # ... and at most this many (a minute at ~200 observations/s)


class ObservationTrace:
    """A bounded, numbered record of ingested observations, kept only while someone holds the lease."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self.next_id = 1
        self.dropped = 0  # entries pushed out of the buffer before anyone read them
        self.read_up_to = 0
        self.expires_at: float | None = None  # monotonic; None: not recording
        self._lease_s = 30.0
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ENTRIES)  # the last RECENT_S seconds, unnumbered

    @property
    def recording(self) -> bool:
        if self.expires_at is not None and time.monotonic() > self.expires_at:
            self.expires_at = None  # the lease ran out: nobody is reading, nobody will
            self.entries.clear()
        return self.expires_at is not None

    def open(self, lease_s: float) -> None:
        """Start recording (or renew the lease of the recording already open)."""
        self.expires_at = time.monotonic() + lease_s
        self._lease_s = lease_s

    def close(self) -> int:
        """Stop recording and forget the entries; how many were recorded in all."""
        recorded = self.next_id - 1
        self.expires_at = None
        self.entries.clear()
        return recorded

    def record(self, obs: dict[str, Any], arrived_at: float) -> None:
        """The hook where the monitor ingests an observation: kept among the recent ones, and numbered into the
        recording when one is open."""
        kept = {"t": arrived_at}
        kept.update((k, obs[k]) for k in KEPT if k in obs)
        recent = self.recent
        recent.append(kept)
        while recent[0]["t"] < arrived_at - RECENT_S:
            recent.popleft()
        if self.expires_at is None or not self.recording:
            return
        entry = {"n": self.next_id, **kept}
        self.next_id += 1
        if len(self.entries) == self.entries.maxlen and self.entries[0]["n"] > self.read_up_to:
            self.dropped += 1
        self.entries.append(entry)

    def recent_since(self, start: float) -> list[dict[str, Any]]:
        """The recent observations that reached the monitor at or after `start` (UNIX time), in arrival order."""
        return [e for e in self.recent if e["t"] >= start]

    def since(self, last: int, limit: int) -> list[dict[str, Any]]:
        """Entries numbered after `last` (at most `limit`); reading renews the lease."""
        if self.expires_at is not None and self.recording:
            self.expires_at = time.monotonic() + self._lease_s
        if not self.entries or self.entries[-1]["n"] <= last:
            return []
        skip = max(0, last - self.entries[0]["n"] + 1)
        out = []
        for i in range(skip, len(self.entries)):
            out.append(self.entries[i])
            if len(out) >= limit:
                break
        if out:
            self.read_up_to = max(self.read_up_to, out[-1]["n"])
        return out


def only_query(request: web.Request, *allowed: str) -> None:
    """Unknown or repeated query parameters are a mistake the caller should hear about (400), never ignored."""
    unknown = set(request.query) - set(allowed)
    if unknown or any(len(request.query.getall(name, [])) > 1 for name in allowed):
        raise ApiError(400, f"query parameters: at most one each of {', '.join(allowed) or 'none'}")


def int_query(request: web.Request, name: str, default: int, high: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not 0 <= value <= high:
        raise ApiError(400, f"{name} must be between 0 and {high}")
    return value
