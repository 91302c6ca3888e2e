"""With no page open the dashboard polls only its chart's /metrics scrapes; a reader gets the rest caught up first."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.dashboard import collector
from faultlab.lab.dashboard.collector import LiveState

pytestmark = pytest.mark.timeout(30)


def stand_in(seen: Counter[str]) -> web.Application:
    """Every service of the lab at one address: counts each path asked for, answers what the dashboard reads."""

    async def answer(request: web.Request) -> web.Response:
        seen[request.path] += 1
        if request.path == "/metrics":
            return web.Response(text="", content_type="text/plain")
        if request.path.endswith("/status"):
            return web.json_response({"instances": [{"replica": 1, "status": "ON", "caught_up": True}]})
        if request.path == "/voting/stats":
            return web.json_response({"replicas": {}})
        if request.path == "/failures":
            return web.json_response({"failures": []})
        if request.path == "/health":
            return web.json_response({"working": True})
        return web.json_response({"error": "not here"}, status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


async def until(ok: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until `ok()` holds (a loaded machine runs the loops late, never wrong)."""
    deadline = time.monotonic() + timeout_s
    while not ok():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def test_an_unwatched_dashboard_scrapes_only_its_chart_and_catches_up_for_a_reader(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Unwatched, ticks ask for /metrics only (chart points keep coming); `catch_up` polls the monitor's /status and
    the voter's stats at once (unless a poll is fresh) and has /health and /failures read; a page that subscribes gets
    the state polls on every tick."""
    monkeypatch.setattr(collector, "IDLE_TICK_S", 0.05)
    seen: Counter[str] = Counter()
    server = TestServer(stand_in(seen))
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    urls = {name: base for name in ("monitor", "voter", "orders", "dashboard", "inventory-1")}
    live = LiveState(Settings(admin_token="t" * 32, replicas=1), get_logger("dashboard"), urls=urls)
    await live.start()
    try:
        await until(lambda: seen["/failures"] == 1)  # the slow loop's first round, at start-up
        seen.clear()
        points = len(live.series)
        await until(lambda: seen["/metrics"] >= 6 and len(live.series) >= points + 3)
        assert seen["/status"] == seen["/voting/stats"] == seen["/health"] == seen["/failures"] == 0
        live._state_at = time.monotonic()  # polled a moment ago: a reader takes it as it is
        await live.catch_up()
        assert seen["/status"] == 0
        live.instances.clear()
        live._state_at = -1e9
        await live.catch_up()
        assert seen["/status"] == 1 and seen["/voting/stats"] == 1 and live.instances[1]["status"] == "ON"
        await until(lambda: seen["/health"] >= 1 and seen["/failures"] >= 1)
        status_polls = seen["/status"]
        queue = live.subscribe()
        await until(lambda: seen["/status"] >= status_polls + 2 and seen["/voting/stats"] >= status_polls + 2)
        live.unsubscribe(queue)
    finally:
        await live.stop()
        await server.close()
