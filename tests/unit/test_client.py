"""The lab's API client against a real local aiohttp server: token header, error mapping, timeouts, bad JSON."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.core.client import ApiCallError, LabClient, Unreachable
from faultlab.core.config import Settings
from faultlab.core.messages.supervisor import ResetRequest
from faultlab.faults.registry import Call

TOKEN = "t0ken-for-the-test"


def make_app(seen: list[dict[str, Any]]) -> web.Application:
    """A stand-in supervisor and replica: records what it received, answers as the real ones do."""

    async def record(request: web.Request) -> None:
        seen.append({"method": request.method, "path": request.path_qs,
                     "auth": request.headers.get("Authorization"),
                     "content_type": request.headers.get("Content-Type"),
                     "body": await request.json() if request.can_read_body else None})

    async def processes(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"host": "127.0.0.1", "processes": []})

    async def guarded(request: web.Request) -> web.Response:
        await record(request)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "operator token required"}, status=401)
        return web.json_response({"reset": True, "seconds": 0.5, "initial_stock": {"P1": 100}})

    async def refuse(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"error": "unknown fault kind 'melt'"}, status=400)

    async def plain_error(request: web.Request) -> web.Response:
        return web.Response(status=503, text="upstream gone")

    async def not_json(request: web.Request) -> web.Response:
        return web.Response(status=200, text="<html>hello</html>", content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/processes", processes)
    app.router.add_post("/reset", guarded)
    app.router.add_post("/faults", refuse)
    app.router.add_get("/plain-error", plain_error)
    app.router.add_get("/not-json", not_json)
    app.router.add_get("/slow", slow)
    return app


@pytest_asyncio.fixture(loop_scope="function")
async def server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    async with TestServer(make_app(seen), host="127.0.0.1") as test_server:
        yield test_server, seen


def settings_for(port: int, token: str | None = TOKEN) -> Settings:
    return Settings(supervisor_port=port, inventory_base_port=port, replicas=1, admin_token=token)


async def test_helpers_call_the_service_from_settings_and_decode_json(server: Any) -> None:
    """A typed helper calls the supervisor at the port the settings give and returns the decoded JSON."""
    test_server, seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        answer = await client.processes()
    assert answer == {"host": "127.0.0.1", "processes": []}
    assert seen == [{"method": "GET", "path": "/processes", "auth": None, "content_type": None, "body": None}]


async def test_operator_calls_send_the_token_and_a_model_body_as_json(server: Any) -> None:
    """An operator call carries `Authorization: Bearer <token>` and a pydantic body as JSON without unset fields."""
    test_server, seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        answer = await client.reset(ResetRequest(keep_data=True))
    assert answer["reset"] is True
    assert seen[0]["auth"] == f"Bearer {TOKEN}"
    assert seen[0]["content_type"] == "application/json"
    assert seen[0]["body"] == {"settings": {}, "keep_data": True}


async def test_a_wrong_token_is_an_api_error_with_the_servers_message(server: Any) -> None:
    """A 401 becomes ApiCallError carrying status 401 and the server's `error` text, not retriable."""
    test_server, _seen = server
    async with LabClient(settings_for(test_server.port, token="wrong")) as client:
        with pytest.raises(ApiCallError) as caught:
            await client.reset()
    assert caught.value.status == 401
    assert caught.value.error == "operator token required"
    assert not caught.value.retriable
    assert "HTTP 401: operator token required" in str(caught.value)


async def test_no_token_refuses_before_sending(server: Any) -> None:
    """Without an operator token an operator call fails with 401 and nothing reaches the server."""
    test_server, seen = server
    async with LabClient(settings_for(test_server.port, token=None)) as client:
        with pytest.raises(ApiCallError) as caught:
            await client.reset()
    assert caught.value.status == 401 and "no operator token" in caught.value.error
    assert seen == []


async def test_a_refused_body_maps_to_400_and_a_data_call_uses_the_same_path(server: Any) -> None:
    """A 400 answer to a call described as data (a fault kind's Call) raises ApiCallError with the server's message."""
    test_server, seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        with pytest.raises(ApiCallError) as caught:
            await client.call(Call("POST", f"http://127.0.0.1:{test_server.port}/faults", {"kind": "melt"}))
    assert (caught.value.status, caught.value.error) == (400, "unknown fault kind 'melt'")
    assert seen[0]["body"] == {"kind": "melt"} and seen[0]["auth"] == f"Bearer {TOKEN}"


async def test_send_returns_any_status_and_text_bodies(server: Any) -> None:
    """`send` returns the status and body whatever the status; a body that is not JSON comes back as text."""
    test_server, _seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        assert await client.send("GET", client.url("supervisor", "/plain-error")) == (503, "upstream gone")
        assert (await client.send("GET", client.url("supervisor", "/nope")))[0] == 404


async def test_an_error_without_json_keeps_its_text_and_is_retriable(server: Any) -> None:
    """A 503 with a plain-text body raises ApiCallError whose message is that text, marked retriable."""
    test_server, _seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        with pytest.raises(ApiCallError) as caught:
            await client.request("GET", client.url("supervisor", "/plain-error"))
    assert (caught.value.status, caught.value.error, caught.value.retriable) == (503, "upstream gone", True)


async def test_a_success_that_is_not_json_is_an_error(server: Any) -> None:
    """A 200 answer whose body is not JSON raises ApiCallError saying so rather than returning text as data."""
    test_server, _seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        with pytest.raises(ApiCallError) as caught:
            await client.request("GET", client.url("supervisor", "/not-json"))
    assert caught.value.status == 200 and "not JSON" in caught.value.error


async def test_a_slow_server_times_out_as_unreachable(server: Any) -> None:
    """A call past its timeout raises Unreachable (status None, timed out, retriable) well before the answer."""
    test_server, _seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(Unreachable) as caught:
            await client.request("GET", client.url("supervisor", "/slow"), timeout_s=0.2)
        elapsed = asyncio.get_running_loop().time() - started
    assert caught.value.status is None and caught.value.timed_out and caught.value.retriable
    assert elapsed < 4


async def test_nothing_listening_is_unreachable(server: Any) -> None:
    """A port where nothing listens raises Unreachable, not a timeout, naming the URL."""
    test_server, _seen = server
    port = test_server.port
    await test_server.close()
    async with LabClient(settings_for(port)) as client:
        with pytest.raises(Unreachable) as caught:
            await client.processes()
    assert not caught.value.timed_out and f"127.0.0.1:{port}/processes" in str(caught.value)


async def test_a_replica_the_lab_does_not_have_is_refused(server: Any) -> None:
    """Naming a replica outside the lab's replicas raises ValueError before any request."""
    test_server, seen = server
    async with LabClient(settings_for(test_server.port)) as client:
        with pytest.raises(ValueError):
            await client.inject(7, {"kind": "crash"})
    assert seen == []


async def test_stop_is_safe_twice_and_a_lent_session_stays_open(server: Any) -> None:
    """stop() may be called twice; a session passed in is not closed by the client."""
    import aiohttp

    test_server, _seen = server
    client = await LabClient(settings_for(test_server.port)).start()
    await client.stop()
    await client.stop()
    async with aiohttp.ClientSession() as session:
        lent = LabClient(settings_for(test_server.port), session=session)
        await lent.stop()
        assert not session.closed
        assert (await lent.processes())["processes"] == []
