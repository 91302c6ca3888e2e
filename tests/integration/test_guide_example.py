"""The guide's example system (examples/guide-system), driven through its run.sh on free ports: every endpoint its
README documents answers that way, each fault kind applies and clears, its flaws on purpose show, replica 2 comes
back with `run.sh restart 2`, and `run.sh down` leaves no process. faultlab is used only to show that a lab and the
example refuse each other's ports."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from benchmarks.harness import free_block, lab_settings
from faultlab.runtime.supervisor import Supervisor, SupervisorError
from tests.helpers import get_json

pytestmark = pytest.mark.timeout(240)  # the first use also installs the example's virtual environment

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "guide-system"
RUN_SH = EXAMPLE / "run.sh"
PORT_VARIABLES = ("GUIDE_INVENTORY_BASE_PORT", "GUIDE_MONITOR_PORT", "GUIDE_VOTER_PORT", "GUIDE_ORDERS_PORT",
                  "GUIDE_KAFKA_PORT", "GUIDE_POSTGRES_PORT")
INCORRECT_QUANTITY = -999  # what an `incorrect_response` replica answers (README: "Fault injection")


@dataclass
class Example:
    """A running example: the environment run.sh was given, its run folder and its ports."""

    env: dict[str, str]
    run: Path
    base: int

    def replica(self, n: int) -> str:
        return f"http://127.0.0.1:{self.base + n - 1}"

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.base + 3}"

    @property
    def voter(self) -> str:
        return f"http://127.0.0.1:{self.base + 4}"

    @property
    def orders(self) -> str:
        return f"http://127.0.0.1:{self.base + 5}"

    def pid(self, name: str) -> int:
        return int(json.loads((self.run / "pids" / f"{name}.pid").read_text())["pid"])


def example_env(run: Path, **overrides: str) -> tuple[dict[str, str], int]:
    """run.sh's environment for a run folder and a block of free ports (replicas base..base+2, then the others)."""
    base = free_block(8)
    env = {**os.environ, "GUIDE_RUN_DIR": str(run), "GUIDE_STOCK": "PROD-001=1000,PROD-002=500,PROD-003=750"}
    env.update({name: str(base + i + (2 if i else 0)) for i, name in enumerate(PORT_VARIABLES)})
    env.update(overrides)
    return env, base


async def run_sh(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [str(RUN_SH), *args], env=env, capture_output=True, text=True,
                                   timeout=timeout_s)


def living(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def processes_in(run: Path) -> list[int]:
    """Every living process whose working folder is in the run folder (run.sh starts them all there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if (cwd == run or run in cwd.parents) and living(int(entry.name)):
            found.append(int(entry.name))
    return found


async def eventually(what: str, check: Callable[[], Any], timeout_s: float = 20) -> Any:
    """Poll an async check until it returns something true; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s (last: {last})")


async def inject(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{url}/inject-failure", json=body) as resp:
        return resp.status, await resp.json()


async def instance(http: aiohttp.ClientSession, example: Example, instance_id: str) -> dict[str, Any]:
    _status, body = await get_json(http, f"{example.monitor}/status")
    return next(row for row in body["instances"] if row["instance_id"] == instance_id)


async def reserved(http: aiohttp.ClientSession, url: str, product_id: str) -> int:
    _status, body = await get_json(http, f"{url}/inventory/{product_id}")
    return int(body["reserved_quantity"])


def new_run_folder() -> Path:
    """A run folder directly under the system's temporary folder: PostgreSQL runs as another user there, and any
    pytest session that starts on the machine makes /tmp/pytest-of-<user> private again (0700)."""
    return Path(tempfile.mkdtemp(prefix="guide-system-"))


@pytest.fixture
def run_folder() -> Iterator[Path]:
    folder = new_run_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
async def example() -> AsyncIterator[Example]:
    """The example, up on free ports in its own run folder; stopped after the module whatever happened."""
    run = new_run_folder()
    env, base = example_env(run)
    installed = await run_sh(env, "install", timeout_s=200)
    assert installed.returncode == 0, installed.stderr
    started = await run_sh(env, "up", timeout_s=90)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Example(env, run, base)
    finally:
        await run_sh(env, "down", timeout_s=60)
        shutil.rmtree(run, ignore_errors=True)


async def test_up_refuses_a_port_a_faultlab_lab_holds_and_starts_nothing(
        lab: Supervisor, run_folder: Path, http: aiohttp.ClientSession) -> None:
    """run.sh up on a port of a running faultlab lab: exit 1, the message names the port and faultlab, no process."""
    env, _base = example_env(run_folder, GUIDE_ORDERS_PORT=str(lab.settings.orders_port))
    refused = await run_sh(env, "up")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"port {lab.settings.orders_port} (orders-svc) is in use by a faultlab lab" in refused.stderr
    assert not list(run_folder.glob("pids/*.pid")) and not processes_in(run_folder)
    status, _body = await get_json(http, f"{lab.settings.service_url('orders')}/health")
    assert status == 200  # the lab is untouched


async def test_up_that_cannot_finish_says_why_and_stops_what_it_started(run_folder: Path) -> None:
    """With no time to wait for /health (GUIDE_UP_TIMEOUT_S=0) up exits 1 saying what was not ready, and every
    process it had started is stopped again."""
    run = run_folder
    env, _base = example_env(run, GUIDE_UP_TIMEOUT_S="0")
    failed = await run_sh(env, "up")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "every service's /health not ready after 0 s" in failed.stderr
    assert "stopping what was started" in failed.stderr
    assert (run / "logs" / "postgres.log").exists() and (run / "logs" / "inventory-svc-1.log").exists()
    assert not list(run.glob("pids/*.pid")) and not processes_in(run)
    status = await run_sh(env, "status")
    assert status.returncode == 3


async def test_faultlab_refuses_to_start_on_the_example_ports(example: Example, tmp_path: Path) -> None:
    """A faultlab lab configured on the example's replica and orders ports refuses to start, naming them."""
    settings = lab_settings(tmp_path / "lab").model_copy(update={
        "inventory_base_port": example.base, "orders_port": int(example.env["GUIDE_ORDERS_PORT"])})
    lab = Supervisor(settings)
    try:
        with pytest.raises(SupervisorError) as refused:
            await lab.start()
    finally:
        await lab.stop()
    assert f"orders ({example.env['GUIDE_ORDERS_PORT']})" in str(refused.value)
    assert f"inventory-1 ({example.base})" in str(refused.value)


async def test_orders_are_accepted_visible_reserved_three_times_and_cancelled(
        example: Example, http: aiohttp.ClientSession) -> None:
    """POST /orders answers 201 with the id; the order stays PENDING; the shared table reserves it 3×; DELETE
    cancels it once (409 after) and releases 3×; bad bodies are 400 and store nothing."""
    before = await reserved(http, example.replica(1), "PROD-002")
    async with http.post(f"{example.orders}/orders", json={"product_id": "PROD-002", "quantity": 4,
                                                           "customer_id": "student-1"}) as resp:
        assert resp.status == 201
        order = await resp.json()
    assert order["status"] == "PENDING" and order["quantity"] == 4
    for body in ({"product_id": "NO-SUCH", "quantity": 1}, {"product_id": "PROD-002", "quantity": 0},
                 {"product_id": "PROD-002", "quantity": True}, {"quantity": 1}, [1, 2]):
        async with http.post(f"{example.orders}/orders", json=body) as resp:
            assert resp.status == 400 and (await resp.json())["error"], body

    async def reserved_everywhere() -> list[int] | None:
        values = [await reserved(http, example.replica(n), "PROD-002") for n in (1, 2, 3)]
        return values if values == [before + 12] * 3 else None

    await eventually("every replica shows 3 × 4 reserved", reserved_everywhere)
    status, voted = await get_json(http, f"{example.voter}/inventory/voted/PROD-002")
    assert status == 200 and voted["data"]["reserved_quantity"] == before + 12
    status, stored = await get_json(http, f"{example.orders}/orders/{order['order_id']}")
    assert status == 200 and stored["status"] == "PENDING" and stored["product_id"] == "PROD-002"
    async with http.delete(f"{example.orders}/orders/{order['order_id']}") as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "CANCELLED"
    async with http.delete(f"{example.orders}/orders/{order['order_id']}") as resp:
        assert resp.status == 409
    await eventually("the cancel releases 3 × 4", lambda: _equals(reserved(http, example.replica(2), "PROD-002"),
                                                                  before))
    status, _body = await get_json(http, f"{example.orders}/orders/00000000-0000-0000-0000-000000000000")
    assert status == 404


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_every_replica_the_monitor_and_the_voter_answer_the_documented_shapes(
        example: Example, http: aiohttp.ClientSession) -> None:
    """Each replica's /health, /inventory and /inventory/<id>; the monitor's /status (ids "1".."3", ON); the voter's
    voted reads and /voting/stats; an unknown product is 404 everywhere."""
    for n in (1, 2, 3):
        status, health = await get_json(http, f"{example.replica(n)}/health")
        assert status == 200 and health["status"] == "UP" and health["service"] == f"inventory-svc-{n}"
        assert health["instance_id"] == str(n) and health["failure_injected"] is False
        status, every = await get_json(http, f"{example.replica(n)}/inventory")
        assert status == 200 and [row["product_id"] for row in every["inventory"]] == ["PROD-001", "PROD-002",
                                                                                       "PROD-003"]
        status, one = await get_json(http, f"{example.replica(n)}/inventory/PROD-003")
        assert status == 200 and set(one) >= {"product_id", "available_quantity", "reserved_quantity", "instance_id"}
        status, _missing = await get_json(http, f"{example.replica(n)}/inventory/NO-SUCH")
        assert status == 404
    for url, name in ((example.orders, "orders-svc"), (example.monitor, "monitor-svc"), (example.voter, "voter-svc")):
        status, health = await get_json(http, f"{url}/health")
        assert status == 200 and health == {**health, "status": "UP", "service": name}
    status, monitor = await get_json(http, f"{example.monitor}/status")
    assert status == 200 and monitor["health_interval_ms"] == 200 and monitor["failure_threshold"] == 3
    assert [(r["service_name"], r["instance_id"], r["instance_name"]) for r in monitor["instances"]] == \
        [("inventory-svc", str(n), f"inventory-svc-{n}") for n in (1, 2, 3)]
    await eventually("every instance ON", lambda: _all_on(http, example))
    _s, stats_before = await get_json(http, f"{example.voter}/voting/stats")
    status, voted = await get_json(http, f"{example.voter}/inventory/voted")
    assert status == 200 and voted["success"] is True and voted["quorum_achieved"] is True
    assert [row["product_id"] for row in voted["data"]["inventory"]] == ["PROD-001", "PROD-002", "PROD-003"]
    status, one = await get_json(http, f"{example.voter}/inventory/voted/PROD-003")
    assert status == 200 and one["successful_responses"] == 3 and one["outliers_detected"] == []
    assert one["data"]["voted_by"] == "1,2,3" and one["voting_metrics"]["participating_instances"] == ["1", "2", "3"]
    status, _missing = await get_json(http, f"{example.voter}/inventory/voted/NO-SUCH")
    assert status == 404
    _s, stats = await get_json(http, f"{example.voter}/voting/stats")
    assert stats["voting_stats"]["total_requests"] == stats_before["voting_stats"]["total_requests"] + 2
    assert stats["voting_stats"]["outliers_detected"] == 0


async def _all_on(http: aiohttp.ClientSession, example: Example) -> bool:
    _s, body = await get_json(http, f"{example.monitor}/status")
    return all(row["status"] == "ON" for row in body["instances"])


async def test_each_fault_kind_applies_and_clears_and_bad_bodies_change_nothing(
        example: Example, http: aiohttp.ClientSession) -> None:
    """latency delays /health, intermittent 1.0 fails every read, incorrect makes the replica and the voted read
    wrong with no outlier flagged and the replica still ON; clear and none undo each; an unknown kind or a bad value
    is 400 and changes nothing."""
    status, answer = await inject(http, example.replica(1), {"type": "latency", "latency_ms": 300})
    assert status == 200 and answer["failure_injected"] is True and answer["failure_type"] == "latency"
    assert answer["message"] == "Failure injection updated for inventory-svc-1"
    start = time.monotonic()
    status, health = await get_json(http, f"{example.replica(1)}/health")
    assert status == 200 and time.monotonic() - start >= 0.3 and health["failure_type"] == "latency"
    status, answer = await inject(http, example.replica(1), {"type": "clear"})
    assert status == 200 and answer["failure_injected"] is False and answer["failure_type"] is None

    status, answer = await inject(http, example.replica(3), {"failure_type": "intermittent", "probability": 1.0})
    assert status == 200 and answer["probability"] == 1.0
    status, body = await get_json(http, f"{example.replica(3)}/inventory/PROD-001")
    assert status == 500 and body["error"] == "Intermittent error"
    status, _answer = await inject(http, example.replica(3), {"type": "none"})
    status, _body = await get_json(http, f"{example.replica(3)}/inventory/PROD-001")
    assert status == 200

    truth = await get_json(http, f"{example.replica(2)}/inventory/PROD-001")
    available = truth[1]["available_quantity"]
    status, answer = await inject(http, example.replica(1), {"type": "incorrect", "product_id": "PROD-001"})
    assert status == 200 and answer["failure_type"] == "incorrect_response" and answer["product_id"] == "PROD-001"
    _s, wrong = await get_json(http, f"{example.replica(1)}/inventory/PROD-001")
    assert wrong["available_quantity"] == INCORRECT_QUANTITY
    status, voted = await get_json(http, f"{example.voter}/inventory/voted/PROD-001")
    assert status == 200 and voted["outliers_detected"] == []
    assert voted["data"]["available_quantity"] == round((2 * available + INCORRECT_QUANTITY) / 3) != available
    assert (await instance(http, example, "1"))["status"] == "ON"  # nothing detects a wrong answer
    _s, right = await get_json(http, f"{example.voter}/inventory/voted/PROD-002")
    assert right["data"]["available_quantity"] == (await get_json(http, f"{example.replica(2)}/inventory/PROD-002")
                                                   )[1]["available_quantity"]
    status, _answer = await inject(http, example.replica(1), {"type": "clear"})
    _s, voted = await get_json(http, f"{example.voter}/inventory/voted/PROD-001")
    assert voted["data"]["available_quantity"] == available

    for body in ({"type": "meteor"}, {"type": "latency", "latency_ms": -5}, {"type": "intermittent",
                 "probability": 2}, {"type": "clear", "failure_type": "latency"}, {}, {"type": "incorrect",
                 "product_id": 7}):
        status, answer = await inject(http, example.replica(2), body)
        assert status == 400 and answer["error"], body
    _s, health = await get_json(http, f"{example.replica(2)}/health")
    assert health["failure_injected"] is False


async def test_latency_takes_seconds_to_detect_and_slows_every_voted_read(
        example: Example, http: aiohttp.ClientSession) -> None:
    """Flaws on purpose: with 1200 ms on replica 2 a voted read waits for it, and the monitor (1 s timeout, one
    replica after another) needs at least 3 timeouts before OFF; cleared, it is ON again."""
    status, _answer = await inject(http, example.replica(2), {"type": "latency", "latency_ms": 1200})
    injected = time.monotonic()
    assert status == 200
    start = time.monotonic()
    status, voted = await get_json(http, f"{example.voter}/inventory/voted/PROD-001")
    assert status == 200 and time.monotonic() - start >= 1.2 and voted["success"] is True

    async def off() -> bool:
        return (await instance(http, example, "2"))["status"] == "OFF"

    await eventually("replica 2 OFF", off, timeout_s=30)
    assert time.monotonic() - injected >= 3.0
    assert (await instance(http, example, "2"))["last_error"] == "ReadTimeout"
    await inject(http, example.replica(2), {"type": "clear"})
    await eventually("replica 2 ON again", lambda: _status_is(http, example, "2", "ON"))


async def _status_is(http: aiohttp.ClientSession, example: Example, instance_id: str, status: str) -> bool:
    return (await instance(http, example, instance_id))["status"] == status


async def test_crash_kills_replica_2_and_run_sh_restart_brings_it_back_caught_up(
        example: Example, http: aiohttp.ClientSession) -> None:
    """crash answers 200 and the process exits; the monitor turns "2" OFF; an order placed meanwhile is reserved by
    the two others; `run.sh restart 2` starts it again, it is ON and has reserved that order too (3× in all)."""
    pid = example.pid("inventory-svc-2")
    before = await reserved(http, example.replica(1), "PROD-003")
    status, answer = await inject(http, example.replica(2), {"type": "crash"})
    assert status == 200 and answer["failure_type"] == "crash"
    await eventually("replica 2's process gone", lambda: _gone(pid))
    await eventually("replica 2 OFF", lambda: _status_is(http, example, "2", "OFF"))
    async with http.post(f"{example.orders}/orders", json={"product_id": "PROD-003", "quantity": 5}) as resp:
        assert resp.status == 201
    await eventually("replicas 1 and 3 see 2 × 5 reserved",
                     lambda: _equals(reserved(http, example.replica(3), "PROD-003"), before + 10))
    restarted = await run_sh(example.env, "restart", "2")
    assert restarted.returncode == 0, restarted.stderr
    assert "inventory-svc-2 restarted" in restarted.stdout and example.pid("inventory-svc-2") != pid
    await eventually("replica 2 ON again", lambda: _status_is(http, example, "2", "ON"))
    await eventually("the restarted replica reserved the order too (3 × 5)",
                     lambda: _equals(reserved(http, example.replica(2), "PROD-003"), before + 15))


async def _gone(pid: int) -> bool:
    return not living(pid)


async def test_two_replicas_down_is_quorum_not_reached(example: Example, http: aiohttp.ClientSession) -> None:
    """`run.sh stop 3` stops replica 3 (status says so); with replica 1 failing too the voter answers 503
    "quorum not reached"; cleared and restarted, voted reads answer again."""
    pid = example.pid("inventory-svc-3")
    stopped = await run_sh(example.env, "stop", "3")
    assert stopped.returncode == 0 and "inventory-svc-3 stopped" in stopped.stdout
    assert not living(pid)
    status = await run_sh(example.env, "status")
    assert status.returncode == 1 and any(line.startswith("inventory-svc-3") and "stopped" in line
                                          for line in status.stdout.splitlines()), status.stdout
    await inject(http, example.replica(1), {"type": "intermittent", "probability": 1.0})
    try:
        code, body = await get_json(http, f"{example.voter}/inventory/voted/PROD-001")
        assert code == 503 and body["error"] == "quorum not reached" and body["success"] is False
        assert body["successful_responses"] == 1 and body["failed_responses"] == 2
    finally:
        await inject(http, example.replica(1), {"type": "clear"})
        restarted = await run_sh(example.env, "restart", "3")
    assert restarted.returncode == 0, restarted.stderr
    code, body = await get_json(http, f"{example.voter}/inventory/voted/PROD-001")
    assert code == 200 and body["success"] is True


async def test_down_stops_every_process_it_started(example: Example) -> None:
    """`run.sh down` stops all eight processes (and PostgreSQL's own) and status then says nothing runs."""
    pids = [example.pid(path.stem) for path in (example.run / "pids").glob("*.pid")]
    assert len(pids) == 8 and all(living(pid) for pid in pids)
    assert processes_in(example.run)
    stopped = await run_sh(example.env, "down", timeout_s=60)
    assert stopped.returncode == 0 and "postgres" in stopped.stdout
    assert not [pid for pid in pids if living(pid)]
    assert not processes_in(example.run)
    status = await run_sh(example.env, "status")
    assert status.returncode == 3 and "not running" in status.stdout
