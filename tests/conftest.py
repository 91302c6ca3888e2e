"""Shared fixtures: a real lab (embedded PostgreSQL + Tansu + services) on free ports, once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from benchmarks.harness import lab_settings
from faultlab.runtime.supervisor import Supervisor

BASETEMP_PREFIX = "faultlab-tests-"
KEEP_FINISHED = 3  # the newest finished sessions' folders stay (screenshots, logs); older ones go
STALE_S = 24 * 3600  # an unfinished session's folder this old belongs to a session that died


def pytest_configure(config: pytest.Config) -> None:
    """Each session gets its own temporary folder under /tmp, not /tmp/pytest-of-<user>: another pytest session on
    the machine sets that one back to mode 0700 and rotates its numbered folders, and the embedded PostgreSQL, which
    runs as another user, would lose its data folder in the middle of a test."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return
    root = Path(tempfile.gettempdir())
    finished = sorted((p for p in root.glob(BASETEMP_PREFIX + "*") if (p / ".finished").exists()),
                      key=lambda p: (p / ".finished").stat().st_mtime)
    stale = [p for p in root.glob(BASETEMP_PREFIX + "*")
             if not (p / ".finished").exists() and time.time() - p.stat().st_mtime > STALE_S]
    for old in finished[:-KEEP_FINISHED] + stale:
        shutil.rmtree(old, ignore_errors=True)
    config.option.basetemp = tempfile.mkdtemp(prefix=BASETEMP_PREFIX)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, `kill`) ends the session as Ctrl-C does, so the labs' fixtures stop every service they
    started instead of leaving them running."""
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_unconfigure(config: pytest.Config) -> None:
    base = config.option.basetemp
    if base is not None and Path(base).name.startswith(BASETEMP_PREFIX) and Path(base).is_dir():
        (Path(base) / ".finished").touch()


# The suite reads English messages (and the labs it starts inherit this); tests of Spanish choose it themselves.
os.environ["FAULTLAB_LANG"] = "en"


@pytest.fixture(scope="session")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    """One running lab shared by the integration tests (each test restores what it changes).

    It has the guide's three products plus PROD-004 with ample stock, for tests that must not run out.
    """
    home = tmp_path_factory.mktemp("lab")
    stock = {"PROD-001": 1000, "PROD-002": 500, "PROD-003": 750, "PROD-004": 1_000_000}
    async with Supervisor(lab_settings(home, initial_stock=stock)) as running:
        yield running


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


@pytest.fixture
async def settled(lab: Supervisor) -> Supervisor:
    """The lab with every fault cleared and every replica ON again before a test starts."""
    from tests.helpers import clear_all_faults

    await clear_all_faults(lab)
    await lab.wait_working(30)
    return lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(part in str(item.fspath) for part in ("integration", "e2e", "compat")):
            item.add_marker(pytest.mark.integration)


asyncio_timeout = asyncio.timeout
