"""The fault proxy against real replicas (small aiohttp apps on loopback): each fault has its effect and is cleared,
its control API refuses without the token and on bad input, and `faultlab system proxy` stops leaving nothing."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import orjson
import pytest
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.systems.proxy import FaultProxy, ProxyClient, ProxyError, running_proxy
from faultlab.lab.systems.proxy.control import ControlApi

TOKEN = "t" * 32
INVENTORY = {"instance_id": "1", "inventory": [
    {"product_id": "PROD-001", "available_quantity": 1000, "reserved_quantity": 0},
    {"product_id": "PROD-002", "available_quantity": 500, "reserved_quantity": 3}]}


class Replica:
    """A replica stand-in: the guide's GET /inventory and /health, an echo, a chunked and a gzip answer; it counts
    the requests it got per path and the connections they came on."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.peers: set[Any] = set()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/inventory", self.inventory)
        app.router.add_get("/health", self.health)
        app.router.add_post("/echo", self.echo)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/gzip", self.gzipped)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _seen(self, request: web.Request) -> None:
        self.requests[request.path] += 1
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)

    async def inventory(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response(INVENTORY)

    async def health(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response({"status": "UP"})

    async def echo(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response({"got": await request.json(), "host": request.host})

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        answer.enable_chunked_encoding()
        await answer.prepare(request)
        await answer.write(b'{"inventory": [{"product_id": "PROD-001", ')
        await answer.write(b'"available_quantity": 7}]}')
        await answer.write_eof()
        return answer

    async def gzipped(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.Response(body=gzip.compress(orjson.dumps(INVENTORY)), content_type="application/json",
                            headers={"Content-Encoding": "gzip"})


@pytest.fixture
async def replica() -> AsyncIterator[Replica]:
    running = Replica()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def proxy(replica: Replica) -> AsyncIterator[FaultProxy]:
    async with FaultProxy({1: replica.url}, seed=11) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def fetch(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.get(url, **kw) as answer:
        return answer.status, await answer.json(content_type=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


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


@pytest.fixture
async def control(proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[ControlApi]:
    api = ControlApi(proxy, Settings(home=tmp_path, admin_token=TOKEN), get_logger("test"))
    await api.start("127.0.0.1", 0)
    yield api
    await api.stop()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_the_control_api_refuses_without_the_token(control: ControlApi, proxy: FaultProxy,
                                                         http: aiohttp.ClientSession) -> None:
    """Every fault route answers 401 without the token (or with a wrong one) and changes nothing; /health is open."""
    calls = [("GET", "/replicas", None), ("GET", "/replicas/1/faults", None),
             ("POST", "/replicas/1/faults", {"kind": "hang"}), ("DELETE", "/replicas/1/faults", None),
             ("POST", "/reset", None)]
    await proxy.inject(1, "latency", {"latency_ms": 1})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for method, path, body in calls:
            async with http.request(method, control.url + path, json=body, headers=headers) as answer:
                assert answer.status == 401, (method, path)
    assert [f["kind"] for f in proxy.faults(1)] == ["latency"]
    async with http.get(control.url + "/health") as answer:
        assert answer.status == 200 and (await answer.json())["status"] == "UP"


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/replicas/1/faults", {"kind": "latency", "latency_ms": -5}, 400),
    ("POST", "/replicas/1/faults", {"kind": "meteor"}, 400),
    ("POST", "/replicas/1/faults", {"latency_ms": 5}, 400),
    ("POST", "/replicas/1/faults", {"kind": "incorrect", "delta": 1, "value": 2}, 400),
    ("POST", "/replicas/9/faults", {"kind": "hang"}, 404),
    ("POST", "/replicas/x/faults", {"kind": "hang"}, 404),
    ("POST", "/replicas/1/faults", {"kind": "crash"}, 409),
    ("DELETE", "/replicas/1/faults?kind=meteor", None, 400),
    ("DELETE", "/replicas/1/faults?replica=2", None, 400),
])
async def test_the_control_api_refuses_bad_input_and_changes_nothing(
        control: ControlApi, proxy: FaultProxy, http: aiohttp.ClientSession, method: str, path: str,
        body: dict[str, Any] | None, status: int) -> None:
    """Bad parameters 400 (every problem with its place), an unknown replica 404, a crash without a process id 409;
    the fault already on stays, nothing else is added."""
    await proxy.inject(1, "latency", {"latency_ms": 1})
    async with http.request(method, control.url + path, json=body, headers=AUTH) as answer:
        assert answer.status == status
        assert (await answer.json())["error"]
    assert [f["kind"] for f in proxy.faults(1)] == ["latency"]


async def test_the_control_api_injects_lists_clears_and_resets(control: ControlApi, proxy: FaultProxy,
                                                               http: aiohttp.ClientSession) -> None:
    """Answered as a replica's own fault API: fault.kind and activated_at, then cleared_at; ProxyClient reads it
    the same way."""
    async with http.post(control.url + "/replicas/1/faults", json={"kind": "hang", "paths": ["/health"]},
                         headers=AUTH) as answer:
        assert answer.status == 201
        injected = await answer.json()
    assert injected["fault"]["kind"] == "hang" and injected["activated_at"] == injected["fault"]["activated_at"]
    assert injected["fault"]["injected_at"] <= injected["activated_at"]
    async with http.get(control.url + "/replicas/1/faults", headers=AUTH) as answer:
        listed = await answer.json()
    assert [f["kind"] for f in listed["faults"]] == ["hang"]
    async with http.get(control.url + "/replicas", headers=AUTH) as answer:
        replicas = await answer.json()
    async with http.delete(control.url + "/replicas/1/faults?kind=hang", headers=AUTH) as answer:
        cleared = await answer.json()
    assert [f["kind"] for f in cleared["cleared"]] == ["hang"] and cleared["cleared_at"] >= injected["activated_at"]
    assert cleared["cleared"][0]["cleared_at"] == cleared["cleared_at"]
    async with http.get(control.url + "/openapi.json") as answer:
        document = await answer.json()
    for schema, body in [("ProxyFaultInjected", injected), ("ProxyFaultList", listed), ("ProxyReplicas", replicas),
                         ("ProxyFaultsCleared", cleared)]:  # each answer is what the document says
        jsonschema.validate(body, {"$ref": f"#/components/schemas/{schema}", "components": document["components"]})
    async with ProxyClient(control.url, TOKEN) as client:
        assert client.replicas == [1] and client.address(1) == proxy.address(1)
        at = await client.inject(1, "intermittent", {"probability": 0.5})
        assert proxy.faults(1)[0]["activated_at"] == at
        [reset] = await client.reset()
        assert [f["kind"] for f in reset["cleared"]] == ["intermittent"] and proxy.faults(1) == []
        with pytest.raises(ProxyError, match="400"):
            await client.inject(1, "latency", {"latency_ms": "soon"})


async def test_stop_leaves_nothing_listening(replica: Replica, tmp_path: Path) -> None:
    """After stop (called twice), neither the replicas' ports nor the control port accept a connection; a hung
    request is let go."""
    proxy = FaultProxy({1: replica.url, 2: replica.url})
    await proxy.start()
    api = ControlApi(proxy, Settings(home=tmp_path, admin_token=TOKEN), get_logger("test"))
    await api.start("127.0.0.1", 0)
    ports = [proxy.port(1), proxy.port(2), int(api.url.rsplit(":", 1)[1])]
    await proxy.inject(1, "hang")
    async with aiohttp.ClientSession() as http:
        held = asyncio.create_task(fetch(http, proxy.address(1) + "/health"))
        await asyncio.sleep(0.1)
        await api.stop()
        await proxy.stop()
        await proxy.stop()
        with contextlib.suppress(aiohttp.ClientError):
            await asyncio.wait_for(held, 20)
    assert all(refuses(port) for port in ports)


async def test_a_port_in_use_is_a_clear_error_and_nothing_stays_listening(replica: Replica) -> None:
    """The second replica's port is taken: ProxyError names it, and the first replica's port is closed again."""
    first = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        proxy = FaultProxy({1: replica.url, 2: replica.url}, ports={1: first, 2: busy})
        with pytest.raises(ProxyError, match=f"cannot listen on 127.0.0.1:{busy}"):
            await proxy.start()
    assert refuses(first)


async def _read_until(stream: asyncio.StreamReader, text: str, timeout_s: float = 30) -> str:
    seen = ""
    async with asyncio.timeout(timeout_s):
        while text not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"ended before {text!r}: {seen}")
            seen += line.decode()
    return seen


def _cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "faultlab", "--home", str(home), "system", "proxy", *args]


async def test_the_command_runs_until_ctrl_c_and_leaves_nothing_listening(replica: Replica, tmp_path: Path,
                                                                          http: aiohttp.ClientSession) -> None:
    """`faultlab system proxy` prints where to point the voter and monitor and the control URL, forwards, warns of a
    replica that does not answer and keeps running; SIGINT stops it with exit 0, nothing listening, proxy.json gone."""
    ports, control_port = [free_port(), free_port()], free_port()
    process = await asyncio.create_subprocess_exec(
        *_cli(tmp_path, "--upstream", f"1={replica.url}", "--upstream", f"2=http://127.0.0.1:{free_port()}",
              "--ports", f"1={ports[0]},2={ports[1]}", "--control-port", str(control_port), "--listen", "0.0.0.0"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "FAULTLAB_LANG": "en", "FAULTLAB_ADMIN_TOKEN": TOKEN, "COLUMNS": "200"})
    try:
        assert process.stdout is not None
        out = await _read_until(process.stdout, "does not answer")
        assert f"http://host.docker.internal:{ports[0]}" in out and "INVENTORY_URLS=" in out
        assert f"control API: http://127.0.0.1:{control_port}" in out and "warning: replica 2" in out
        assert (await fetch(http, f"http://127.0.0.1:{ports[0]}/inventory")) == (200, INVENTORY)
        state = running_proxy(tmp_path)
        assert state is not None and state["control_url"] == f"http://127.0.0.1:{control_port}"
        async with ProxyClient(state["control_url"], TOKEN) as client:
            await client.inject(1, "latency", {"latency_ms": 5})
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        rest = (await process.stdout.read()).decode()
        assert "replica 1: latency injected" in rest and "nothing left listening" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert all(refuses(port) for port in (*ports, control_port))
    assert running_proxy(tmp_path) is None


async def test_the_command_refuses_a_port_in_use(replica: Replica, tmp_path: Path) -> None:
    """A port another program holds: exit 1 with the port named, nothing left listening."""
    control_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            *_cli(tmp_path, "--upstream", f"1={replica.url}", "--ports", str(busy), "--control-port",
                  str(control_port)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "FAULTLAB_LANG": "en", "COLUMNS": "200"})
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{busy}" in out.decode()
    assert refuses(control_port)
