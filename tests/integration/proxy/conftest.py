"""The fault proxy's fixtures: a real replica stand-in, a FaultProxy in front of it, its control API, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.systems.proxy import FaultProxy
from faultlab.lab.systems.proxy.control import ControlApi
from tests.integration.proxy.replica import TOKEN, Replica


@pytest.fixture
async def replica() -> AsyncIterator[Replica]:
    """A replica stand-in listening on a free loopback port."""
    running = Replica()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def proxy(replica: Replica) -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of it as replica 1, on a free port, seeded."""
    async with FaultProxy({1: replica.url}, seed=11) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client of its own per test (the session's shared one is the lab's), 20 s at most per request."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
async def control(proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[ControlApi]:
    """The control API over that proxy, on a free port, with the test's token."""
    api = ControlApi(proxy, Settings(home=tmp_path, admin_token=TOKEN), get_logger("test"))
    await api.start("127.0.0.1", 0)
    yield api
    await api.stop()
