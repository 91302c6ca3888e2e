"""`inject: proxy`: a guide system without the help of its own fault endpoint — faultlab's fault proxy in front of its
replicas (in this process, before a stand-in system) is found by the check, takes the faults, the observer probes
through it and sees them, and the rollback clears them all; no proxy answering is a system the run cannot use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.systems.contract import guide_contract
from faultlab.lab.systems.guide import GuideSystem
from faultlab.lab.systems.proxy import FaultProxy
from faultlab.lab.systems.proxy.control import ControlApi
from tests.unit.test_guide_vanishing import StandIn

TOKEN = "t" * 32


@pytest_asyncio.fixture(loop_scope="function")
async def behind_proxy() -> AsyncIterator[dict[str, Any]]:
    """A stand-in system, a fault proxy in front of its three replicas and the proxy's control API."""
    standin = StandIn()
    server = TestServer(standin.app())
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    proxy = FaultProxy({n: f"{base}/r{n}" for n in (1, 2, 3)})
    await proxy.start()
    control = ControlApi(proxy, Settings(admin_token=TOKEN), get_logger("test"))
    await control.start("127.0.0.1", 0)
    yield {"standin": standin, "base": base, "proxy": proxy, "control": control.url}
    await control.stop()
    await proxy.stop()
    await server.close()


def contract(base: str, control: str | None, **overrides: Any) -> Any:
    return guide_contract(name="stand-in behind the proxy", inject="proxy", orders={"url": f"{base}/o"},
                          monitor={"url": f"{base}/m"}, voter={"url": f"{base}/v", "stats_path": None},
                          replicas={"urls": [f"{base}/r{n}" for n in (1, 2, 3)]},
                          proxy={"control_url": control, "token": "${PROXY_TOKEN}"}, **overrides)


async def test_faults_through_the_proxy_are_seen_by_the_observer_and_rolled_back(
        behind_proxy: dict[str, Any]) -> None:
    """The check finds the proxy and each replica through it; the fault kinds are the proxy's (no crash without
    process ids); an intermittent fault goes on replica 2's traffic, never to its /inject-failure, the observer's
    probes through the proxy see it; the rollback leaves no fault on the proxy."""
    env = {"PROXY_TOKEN": TOKEN}
    system = GuideSystem(contract(behind_proxy["base"], behind_proxy["control"]), Settings(), environ=env)
    await system.start()
    try:
        checked = await system.check()
        assert checked["ok"], checked["unusable"]
        assert any(line.startswith(f"fault proxy at {behind_proxy['control']}: 1 = http://127.0.0.1:")
                   for line in checked["found"]), checked["found"]
        assert sorted(system.abilities.fault_kinds) == ["hang", "incorrect", "intermittent", "latency", "stop"]
        assert all(t.health_url.startswith("http://127.0.0.1:") and "/r" not in t.health_url
                   for t in system.observer.targets)
        [injected] = await system.inject("intermittent", [2], {"probability": 1.0})
        episode = await system.wait_episode(2, injected.sent_at, "observer_detected_at", 5)
        assert episode is not None and episode["observer_ttd_ms"] is not None, episode
        assert behind_proxy["standin"].injections == []  # the system's own fault endpoint was never asked
        assert [f["kind"] for f in behind_proxy["proxy"].faults(2)] == ["intermittent"]
        timeline: list[dict[str, Any]] = []
        assert await system.rollback(timeline) == []
        assert all(behind_proxy["proxy"].faults(n) == [] for n in (1, 2, 3))
        assert system.describe()["proxy"]["ok"] and "PROXY_TOKEN" in system.describe()["contract"]["proxy"]["token"]
    finally:
        await system.stop()


async def test_no_proxy_answering_is_a_system_the_run_cannot_use(behind_proxy: dict[str, Any]) -> None:
    """inject: proxy with nothing at the control URL: the check says so, with the setting, and fails."""
    control = behind_proxy["control"]
    await asyncio.sleep(0)
    dead = control.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens
    system = GuideSystem(contract(behind_proxy["base"], dead), Settings(), environ={"PROXY_TOKEN": TOKEN})
    await system.start()
    try:
        checked = await system.check()
        assert not checked["ok"]
        assert any("inject: proxy, but no fault proxy answers" in m and "set system.proxy.control_url" in m
                   for m in checked["unusable"]), checked["unusable"]
        assert system.abilities.fault_kinds == frozenset({"stop"})
    finally:
        await system.stop()
