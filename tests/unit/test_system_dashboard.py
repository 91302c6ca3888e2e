"""The live dashboard on a system faultlab did not start (a stand-in built to the guide's contract, watched through
faultlab's observer): it moves off a dashboard port the system holds, its cards are the system's replicas with their
own instance ids and the system monitor's state beside the observer's, a fault shows on both, and the operator's
controls refuse (409) without touching the system."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from faultlab.core.config import Settings
from faultlab.lab.dashboard.app import SystemDashboard
from faultlab.lab.systems.contract import guide_contract
from faultlab.lab.systems.guide import GuideSystem
from tests.unit.test_guide_vanishing import StandIn

pytestmark = pytest.mark.timeout(60)


async def cards_until(http: aiohttp.ClientSession, url: str, ok: Any, timeout_s: float = 20) -> list[dict[str, Any]]:
    """The snapshot's cards once `ok(cards)` holds (the last ones in the failure message)."""
    deadline = time.monotonic() + timeout_s
    cards: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        async with http.get(f"{url}/api/snapshot") as resp:
            cards = (await resp.json())["instances"]
        if ok(cards):
            return cards
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s: {cards}")


async def test_the_dashboard_shows_the_systems_replicas_with_both_states_and_refuses_operator_controls() -> None:
    """Cards 1-3 named by the system's ids, ON by its monitor and by the observer; replica 2 failing turns both OFF;
    POST /api/faults with the token answers 409 and the system receives nothing."""
    standin = StandIn()
    server = TestServer(standin.app())
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    contract = guide_contract(name="stand-in", orders={"url": f"{base}/o"}, monitor={"url": f"{base}/m"},
                              voter={"url": f"{base}/v", "stats_path": None},
                              replicas={"urls": [f"{base}/r{n}" for n in (1, 2, 3)]})
    system = GuideSystem(contract, observer_port=0)
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()  # the system holds the dashboard's port
    settings = Settings(admin_token="tok", dashboard_port=held.getsockname()[1])
    urls = {"monitor": "", "voter": contract.voter.url, "orders": contract.orders.url,
            **{f"inventory-{n}": url for n, url in enumerate(contract.replicas.urls, start=1)}}
    dashboard = None
    try:
        await system.start()
        assert (await system.check())["ok"]
        assert system.observer_api is not None and system.observer_api.url
        dashboard = SystemDashboard(settings, {**urls, "monitor": system.observer_api.url})
        url = await dashboard.start()
        assert not url.endswith(f":{settings.dashboard_port}")  # moved off the held port
        async with aiohttp.ClientSession() as http:
            cards = await cards_until(http, url, lambda cs: len(cs) == 3 and all(
                c["status"] == "ON" and c["observer_status"] == "ON" for c in cs))
            assert [c["instance_id"] for c in cards] == ["inventory-svc-1", "inventory-svc-2", "inventory-svc-3"]
            standin.faults[2] = ("latency", time.time())  # its health answers 500, its monitor says OFF
            cards = await cards_until(http, url, lambda cs: cs[1]["status"] == "OFF" and cs[1][
                "observer_status"] == "OFF")
            assert cards[1]["monitor_status"] == "OFF" and cards[0]["status"] == "ON"
            before = list(standin.injections)
            async with http.post(f"{url}/api/faults", json={"kind": "crash", "replica": 1},
                                 headers={"Authorization": "Bearer tok"}) as resp:
                assert resp.status == 409
                assert "faultlab did not start" in (await resp.json())["error"]
            assert standin.injections == before
    finally:
        if dashboard is not None:
            await dashboard.stop()
        await system.stop()
        held.close()
        await server.close()
