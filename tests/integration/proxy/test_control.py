"""The fault proxy's control API refuses without the token and on bad input, answers as a replica's fault API does,
and `faultlab system proxy` (or `stop()`) leaves nothing listening."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.systems.proxy import FaultProxy, ProxyClient, ProxyError, running_proxy
from faultlab.lab.systems.proxy.control import ControlApi
from tests.integration.proxy.replica import AUTH, INVENTORY, TOKEN, Replica, fetch, free_port, refuses


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
