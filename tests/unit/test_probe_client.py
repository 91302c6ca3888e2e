"""The monitor's health probe client against a real local aiohttp server, and its answer parser on literal bytes."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from faultlab.shop.monitor.probe_client import HealthProbe, ProbeFailed, ProbeRefused, parse_answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_server(port: int, calls: list[str], slow_first_s: float = 0.0, status: int = 200) -> web.AppRunner:
    """A replica stand-in: `/health` answers its call number as JSON (the first one after `slow_first_s`)."""

    async def health(_request: web.Request) -> web.Response:
        calls.append("health")
        if len(calls) == 1 and slow_first_s:
            await asyncio.sleep(slow_first_s)
        return web.json_response({"call": len(calls)}, status=status)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_answers_keep_their_connection_between_probes() -> None:
    """Two probes get both answers (status and body) over the one connection the first opened."""
    port, calls = free_port(), []
    runner = await start_server(port, calls)
    probe = HealthProbe(f"http://127.0.0.1:{port}")
    try:
        assert await probe.get(5.0) == (200, b'{"call": 1}')
        first = probe._answer
        assert await probe.get(5.0) == (200, b'{"call": 2}')
        assert probe._answer is first and first is not None and not first.closed
    finally:
        probe.close()
        probe.close()  # safe twice
        await runner.cleanup()


async def test_a_status_other_than_200_comes_back_as_it_is() -> None:
    """A 503 is an answer: its status and body, not an error."""
    port, calls = free_port(), []
    runner = await start_server(port, calls, status=503)
    probe = HealthProbe(f"http://127.0.0.1:{port}")
    try:
        assert await probe.get(5.0) == (503, b'{"call": 1}')
    finally:
        probe.close()
        await runner.cleanup()


async def test_nobody_listening_is_refused() -> None:
    """A port nobody listens on raises ProbeRefused (the monitor's `refused`)."""
    probe = HealthProbe(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ProbeRefused):
        await probe.get(5.0)


async def test_a_late_answer_is_never_read_as_the_next_probes() -> None:
    """A probe that times out closes its connection: the next one opens a new connection and gets its own answer,
    not the late one."""
    port, calls = free_port(), []
    runner = await start_server(port, calls, slow_first_s=0.3)
    probe = HealthProbe(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TimeoutError):
            await probe.get(0.1)
        assert probe._answer is None
        await asyncio.sleep(0.3)  # the late answer is written by now, to a closed connection
        assert await probe.get(5.0) == (200, b'{"call": 2}')
    finally:
        probe.close()
        await runner.cleanup()


async def test_a_connection_the_replica_closed_is_replaced() -> None:
    """A replica restarted between probes (its kept-alive connection closed) is probed on a new connection."""
    port, calls = free_port(), []
    runner = await start_server(port, calls)
    probe = HealthProbe(f"http://127.0.0.1:{port}")
    try:
        assert (await probe.get(5.0))[0] == 200
        await runner.cleanup()
        runner = await start_server(port, calls)
        assert await probe.get(5.0) == (200, b'{"call": 2}')
    finally:
        probe.close()
        await runner.cleanup()


async def test_an_answer_cut_short_is_a_failed_probe() -> None:
    """A fresh connection closed in the middle of an answer raises ProbeFailed (the monitor's `error`)."""

    async def cut(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"call\"")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    probe = HealthProbe(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProbeFailed):
            await probe.get(5.0)
    finally:
        probe.close()
        server.close()
        await server.wait_closed()


def test_parse_answer_on_literal_bytes() -> None:
    """Complete answers give status, body, keep-alive and bytes used; incomplete ones None; anything that is not an
    HTTP answer with a Content-Length is a ProbeFailed."""
    two = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n"
    assert parse_answer(two) == (200, b"{}", True, 40)
    assert parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}") is None
    assert parse_answer(b"HTTP/1.1 200 OK\r\nContent-Le") is None
    closing = b"HTTP/1.1 500 Oops\r\nConnection: close\r\ncontent-length: 0\r\n\r\n"
    assert parse_answer(closing) == (500, b"", False, len(closing))
    assert parse_answer(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[2] is False  # type: ignore[index]
    for bad in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"):
        with pytest.raises(ProbeFailed):
            parse_answer(bad)
    with pytest.raises(ProbeFailed):
        parse_answer(b"x" * 20_000)


async def test_another_path_with_headers_of_its_own() -> None:
    """The value audit's voted read: another path, and the headers it was given on every request."""
    seen: list[str | None] = []

    async def voted(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Faultlab-Probe"))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/inventory/voted", voted)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    probe = HealthProbe(f"http://127.0.0.1:{port}", "/inventory/voted", {"X-Faultlab-Probe": "value-audit"})
    try:
        assert await probe.get(5.0) == (200, b'{"ok": true}')
        assert await probe.get(5.0) == (200, b'{"ok": true}')
        assert seen == ["value-audit", "value-audit"]
    finally:
        probe.close()
        await runner.cleanup()
