"""One replica's answer to a fan-out — its products' recent versions — or its typed failure (refused, timeout, error,
malformed)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from faultlab.shop.voter.fanout import Refused, Saturated
from faultlab.shop.voter.voting import Version


@dataclass
class Fetch:
    """One replica's answer (or failure) to one fan-out."""

    replica: int
    latency_ms: float
    items: dict[str, list[Version]] | None = None
    failure: str | None = None
    detail: str = ""


def _history(entries: list[Any]) -> list[Version]:
    """A replica's history as the vote takes it: [version, available, reserved, applied_at_ms] each (ValueError
    otherwise; one pass, as the tuples the vote needs are made: this runs three times per read)."""
    return [(v, a, r, at) for v, a, r, at in entries]


def interpret(replica: int, fut: asyncio.Future[tuple[int, bytes]], started: float) -> Fetch:
    """Turn one replica's finished request into an answer or a typed failure."""
    latency = (time.perf_counter() - started) * 1000
    if fut.cancelled():
        return Fetch(replica, latency, failure="timeout")
    exc = fut.exception()
    if isinstance(exc, Refused):
        return Fetch(replica, latency, failure="refused", detail=str(exc)[:120])
    if isinstance(exc, Saturated):  # every allowed connection to it is still waiting for an answer
        return Fetch(replica, latency, failure="timeout", detail=str(exc)[:120])
    if exc is not None:
        return Fetch(replica, latency, failure="error", detail=repr(exc)[:120])
    status, body = fut.result()
    if status >= 500:
        return Fetch(replica, latency, failure="error", detail=f"HTTP {status}")
    if status != 200:
        return Fetch(replica, latency, failure="malformed", detail=f"HTTP {status}")
    try:
        data = orjson.loads(body)
        rows = data["inventory"] if "inventory" in data else [data]  # noqa: SIM401 (a list body has no .get)
        items = {row["product_id"]: _history(row["history"]) for row in rows}
    except (KeyError, TypeError, ValueError):
        return Fetch(replica, latency, failure="malformed", detail="unexpected answer shape")
    return Fetch(replica, latency, items=items)
