"""The fault proxy against a real replica (a small aiohttp app on loopback): with no fault everything passes as it
came, and each fault kind has its effect and is cleared."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from faultlab.lab.systems.proxy import FaultProxy, ProxyError
from tests.integration.proxy.replica import INVENTORY, Replica, fetch, refuses


async def test_with_no_fault_requests_and_answers_pass_untouched(proxy: FaultProxy, replica: Replica,
                                                                 http: aiohttp.ClientSession) -> None:
    """Status and body as the replica gave them (chunked and gzip too), a POST's body forwarded, the Host header
    left as the client sent it, and one kept connection to the replica for one kept client connection."""
    base = proxy.address(1)
    for path in ("/inventory", "/chunked", "/gzip"):
        async with http.get(replica.url + path) as direct, http.get(base + path) as proxied:
            assert (proxied.status, await proxied.read()) == (direct.status, await direct.read())
    async with http.post(base + "/echo", json={"a": [1, 2]}) as answer:
        assert answer.status == 200
        assert await answer.json() == {"got": {"a": [1, 2]}, "host": f"127.0.0.1:{proxy.port(1)}"}
    replica.peers.clear()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as one_connection:
        for _ in range(20):
            assert (await fetch(one_connection, base + "/health"))[0] == 200
    assert len(replica.peers) == 1


async def test_latency_adds_at_least_its_delay_and_stops_when_cleared(proxy: FaultProxy,
                                                                       http: aiohttp.ClientSession) -> None:
    """Every request waits latency_ms before it is forwarded; once cleared, no request is delayed."""
    activated_at = await proxy.inject(1, "latency", {"latency_ms": 300})
    assert activated_at <= time.time()
    started = time.perf_counter()
    assert (await fetch(http, proxy.address(1) + "/inventory"))[0] == 200
    assert time.perf_counter() - started >= 0.3
    cleared = await proxy.clear_faults(1, "latency")
    assert [f["kind"] for f in cleared["cleared"]] == ["latency"] and cleared["cleared"][0]["hits"] == 1
    assert cleared["cleared_at"] >= activated_at
    assert (await fetch(http, proxy.address(1) + "/inventory"))[0] == 200
    assert proxy.faults(1) == []


async def test_a_fault_on_some_paths_leaves_the_others_alone(proxy: FaultProxy, replica: Replica,
                                                             http: aiohttp.ClientSession) -> None:
    """latency on /health (the monitor's checks) does not touch /inventory (the voter's reads)."""
    await proxy.inject(1, "latency", {"latency_ms": 200, "paths": ["/health"]})
    assert (await fetch(http, proxy.address(1) + "/inventory"))[0] == 200
    assert proxy.faults(1)[0]["hits"] == 0
    assert (await fetch(http, proxy.address(1) + "/health"))[0] == 200
    assert proxy.faults(1)[0]["hits"] == 1


async def test_hang_never_answers_until_cleared_then_answers(proxy: FaultProxy, replica: Replica,
                                                             http: aiohttp.ClientSession) -> None:
    """A held request is not forwarded while the fault lasts; the clear forwards it and it is answered."""
    await proxy.inject(1, "hang")
    held = asyncio.create_task(fetch(http, proxy.address(1) + "/inventory"))
    done, _ = await asyncio.wait({held}, timeout=0.5)
    assert not done and replica.requests["/inventory"] == 0
    await proxy.clear(1, "hang")
    assert await asyncio.wait_for(held, 20) == (200, INVENTORY)
    assert replica.requests["/inventory"] == 1


async def test_hang_drops_the_request_of_a_client_that_gave_up(proxy: FaultProxy, replica: Replica,
                                                               http: aiohttp.ClientSession) -> None:
    """A client that times out and closes its connection is not answered later: its request never reaches the
    replica, even after the clear."""
    await proxy.inject(1, "hang")
    with pytest.raises(TimeoutError):
        await fetch(http, proxy.address(1) + "/health", timeout=aiohttp.ClientTimeout(total=0.3))
    deadline = time.monotonic() + 20
    while proxy.describe()[0]["counters"]["reset"] < 1:
        assert time.monotonic() < deadline, "the proxy kept a request whose client had gone"
        await asyncio.sleep(0.02)
    await proxy.clear(1)
    assert (await fetch(http, proxy.address(1) + "/inventory"))[0] == 200
    assert replica.requests["/health"] == 0


async def test_intermittent_with_a_seed_repeats_its_failures_near_the_probability(
        proxy: FaultProxy, http: aiohttp.ClientSession) -> None:
    """The same seed fails the same requests (with the chosen 5xx); over many requests the rate is near p; cleared,
    nothing fails."""

    async def statuses(count: int) -> list[int]:
        await proxy.inject(1, "intermittent", {"probability": 0.3, "status": 503, "seed": 4})
        found = [(await fetch(http, proxy.address(1) + "/health"))[0] for _ in range(count)]
        await proxy.clear(1)
        return found

    first = await statuses(300)
    assert first == await statuses(300)
    assert set(first) == {200, 503}
    assert 0.15 < first.count(503) / len(first) < 0.45
    assert {(await fetch(http, proxy.address(1) + "/health"))[0] for _ in range(50)} == {200}


async def test_refused_closes_the_port_until_cleared(proxy: FaultProxy, http: aiohttp.ClientSession) -> None:
    """refuse mode: a kept connection is reset and a new one refused (a connection error, not an answer); cleared,
    the port listens again."""
    url = proxy.address(1) + "/health"
    assert (await fetch(http, url))[0] == 200  # a kept connection
    await proxy.inject(1, "refused")
    assert refuses(proxy.port(1))
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(http, url)
    await proxy.clear(1, "refused")
    assert (await fetch(http, url))[0] == 200


async def test_refused_in_reset_mode_resets_the_requests_on_its_paths(proxy: FaultProxy, replica: Replica,
                                                                      http: aiohttp.ClientSession) -> None:
    """reset mode on /health: those requests' connections are reset unanswered, /inventory is answered."""
    await proxy.inject(1, "refused", {"mode": "reset", "paths": ["/health"]})
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(http, proxy.address(1) + "/health")
    assert (await fetch(http, proxy.address(1) + "/inventory")) == (200, INVENTORY)
    assert replica.requests["/health"] == 0
    await proxy.clear(1)
    assert (await fetch(http, proxy.address(1) + "/health"))[0] == 200


async def test_incorrect_rewrites_the_named_field_of_the_named_product_only(proxy: FaultProxy,
                                                                           http: aiohttp.ClientSession) -> None:
    """PROD-001's available_quantity moves by delta (in a plain, a chunked and a gzip answer); every other value is
    as the replica answered; /health is untouched; cleared, the answers are right again."""
    await proxy.inject(1, "incorrect", {"product_id": "PROD-001", "delta": 100, "paths": ["/inventory", "/chunked",
                                                                                          "/gzip"]})
    wrong = json.loads(json.dumps(INVENTORY))
    wrong["inventory"][0]["available_quantity"] = 1100
    assert await fetch(http, proxy.address(1) + "/inventory") == (200, wrong)
    assert await fetch(http, proxy.address(1) + "/gzip") == (200, wrong)
    assert await fetch(http, proxy.address(1) + "/chunked") == (
        200, {"inventory": [{"product_id": "PROD-001", "available_quantity": 107}]})
    assert await fetch(http, proxy.address(1) + "/health") == (200, {"status": "UP"})
    await proxy.inject(1, "incorrect", {"product_id": "PROD-002", "field": "reserved_quantity", "value": 0})
    status, answer = await fetch(http, proxy.address(1) + "/inventory")
    assert status == 200
    assert answer["inventory"][1] == {**INVENTORY["inventory"][1], "reserved_quantity": 0}
    assert answer["inventory"][0] == INVENTORY["inventory"][0]
    await proxy.clear(1)
    assert await fetch(http, proxy.address(1) + "/inventory") == (200, INVENTORY)


async def test_a_replica_that_is_down_is_a_connection_error_through_the_proxy(replica: Replica, proxy: FaultProxy,
                                                                              http: aiohttp.ClientSession) -> None:
    """With the replica gone the client's connection is reset (as without the proxy, never a made-up answer); once
    it is back, requests are forwarded again."""
    await replica.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(http, proxy.address(1) + "/health")
    assert proxy.describe()[0]["counters"]["upstream_failures"] >= 1
    await replica.start()
    assert (await fetch(http, proxy.address(1) + "/health"))[0] == 200


async def test_crash_kills_the_replicas_process_by_its_id(replica: Replica, tmp_path: Path) -> None:
    """The signal goes to the pid given (or read from a pid file, JSON or plain); its activated_at is the kill; no
    pid, or a process already gone, is refused with nothing done."""
    first = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
    second = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
    pid_file = tmp_path / "inventory-svc-2.pid"
    pid_file.write_text(json.dumps({"pid": second.pid, "argv": ["python"]}))
    try:
        async with FaultProxy({1: replica.url, 2: replica.url, 3: replica.url},
                              pids={1: first.pid, 2: pid_file}) as proxy:
            before = time.time()
            answer = await proxy.inject_fault(1, "crash")
            assert answer["fault"]["kind"] == "crash" and answer["activated_at"] >= before
            assert await asyncio.wait_for(first.wait(), 20) == -signal.SIGKILL
            await proxy.inject(2, "crash", {"signal": "TERM"})
            assert await asyncio.wait_for(second.wait(), 20) == -signal.SIGTERM
            with pytest.raises(ProxyError, match="no process"):
                await proxy.inject(1, "crash")
            with pytest.raises(ProxyError, match="has no process id"):
                await proxy.inject(3, "crash")
            assert all(not proxy.faults(r) for r in (1, 2, 3))
    finally:
        for process in (first, second):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
