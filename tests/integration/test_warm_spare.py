"""A replica's warm spare opens its connections while it waits and sleeps: it holds PostgreSQL and broker
connections, wakes up for nothing, and takes over a crash with the others' state — also after the broker or
PostgreSQL was killed and came back while it waited."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import psutil
import pytest

from faultlab.runtime.process import wait_spares_ready
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import inject, post_orders, wait_converged

pytestmark = pytest.mark.timeout(240)


async def spares_ready(lab: Supervisor) -> None:
    """Every process that keeps a spare has one, done with its start (a test before may have stopped a process
    and started it again in-process, which arms none: a missing spare is armed first)."""
    for proc in lab.processes.values():
        proc.arm_spare_later(0.0)
    described = [p.describe() for p in lab.processes.values()]

    async def processes() -> list[dict[str, object]]:
        return [p.describe() for p in lab.processes.values()]

    assert await wait_spares_ready(processes, 60), described


def peers(pid: int, ports: dict[str, int]) -> dict[str, int]:
    """The process's established TCP connections, counted by the lab port they reach."""
    counts = dict.fromkeys(ports, 0)
    for conn in psutil.Process(pid).net_connections(kind="tcp"):
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr:
            for name, port in ports.items():
                if conn.raddr.port == port:
                    counts[name] += 1
    return counts


async def test_a_waiting_replica_spare_holds_its_connections_and_wakes_for_nothing(settled: Supervisor) -> None:
    """Before it is needed, a replica's spare is connected to PostgreSQL (its pool's two and its commit connection)
    and to the broker, and over 5 s it is not woken once (no timer, no metadata refresh: no idle CPU)."""
    lab = settled
    await spares_ready(lab)
    pid = lab.processes["inventory-1"].spare_pid
    assert pid is not None
    ports = {"postgres": lab.settings.postgres_port, "broker": lab.settings.broker_port}
    deadline = time.monotonic() + 10
    while (held := peers(pid, ports))["postgres"] < 3 or held["broker"] < 1:  # opened just after its fork
        assert time.monotonic() < deadline, held
        await asyncio.sleep(0.1)
    spare = psutil.Process(pid)
    before = spare.num_ctx_switches().voluntary, sum(spare.cpu_times()[:2])
    await asyncio.sleep(5)
    after = spare.num_ctx_switches().voluntary, sum(spare.cpu_times()[:2])
    assert after == before, f"woken {after[0] - before[0]} times, {after[1] - before[1]:.3f} s of CPU"


@pytest.mark.parametrize("killed", ["broker", "postgres"])
async def test_a_spare_that_waited_through_a_kill_takes_over_with_the_others_state(
        settled: Supervisor, http: aiohttp.ClientSession, killed: str) -> None:
    """The broker (or PostgreSQL) killed -9 and restarted while replica 3's spare waits, its connections broken:
    the spare still takes over replica 3's crash, and with the orders sent after, every replica — served and
    stored — equals the single-copy model."""
    lab = settled
    await spares_ready(lab)
    spare = lab.processes["inventory-3"].spare_pid
    assert lab.processes[killed].signal(signal.SIGKILL)
    await asyncio.sleep(0.5)
    await lab.wait_working(60)
    await wait_converged(lab, http, 60)
    assert lab.processes["inventory-3"].spare_pid == spare, "the same spare waited through the kill"
    await inject(http, lab, 3, kind="crash")
    deadline = time.monotonic() + 30
    while lab.processes["inventory-3"].pid != spare:
        assert time.monotonic() < deadline, "the spare did not take over"
        await asyncio.sleep(0.02)
    await lab.wait_working(60)
    accepted = await post_orders(http, lab, [("PROD-004", 1)] * 20)
    assert len(accepted) == 20
    await wait_converged(lab, http, 60)
