"""A minimal keep-alive HTTP/1.1 GET client for the voter's fan-out to its own replicas.

The voter sends three requests per voted read; with aiohttp's general-purpose client that bookkeeping
was half of the voter's CPU. This client does only what the fan-out needs — GET, keep-alive, responses
with Content-Length (what aiohttp's `json_response` sends) — and returns a plain future per request, so
the voter can wait for a quorum without creating tasks. Anything unexpected closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib

MAX_HEAD_BYTES = 64 * 1024  # a status line and headers longer than this are not a replica's answer
MAX_BODY_BYTES = 8 * 1024 * 1024  # nor a body larger than this (an inventory answer is a few kilobytes)


class FanoutError(ConnectionError):
    """The request failed at the transport or protocol level (refused, reset, malformed)."""


class Refused(FanoutError):
    """Nothing accepted the connection (refused, or no answer to the connect within the connect timeout)."""


class Saturated(FanoutError):
    """Every connection allowed to this host is busy or still connecting: the request is not sent."""


class _Connection(asyncio.Protocol):
    """One persistent connection carrying one request at a time."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        self._fail(FanoutError(f"connection lost: {exc!r}"))

    def send(self, request: bytes, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        self.waiter = waiter
        self.buffer.clear()
        waiter.add_done_callback(self._abandoned)
        assert self.transport is not None
        self.transport.write(request)

    def _abandoned(self, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        if self.waiter is waiter:  # cancelled (timed out) before its answer: the answer may still come
            self.waiter = None
            self.close()

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None:
            self.close()  # bytes nobody asked for
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                self._fail(FanoutError(f"malformed response: no end of headers in {MAX_HEAD_BYTES} bytes"))
            return
        try:
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            length = -1
            for line in head[1:]:
                name, _, value = line.partition(":")
                lname = name.strip().lower()
                if lname == "content-length":
                    length = int(value)
                elif lname == "connection" and value.strip().lower() == "close":
                    self.keep_alive = False
            if length < 0:
                raise ValueError("response without Content-Length")
            if length > MAX_BODY_BYTES:
                raise ValueError(f"Content-Length {length} over {MAX_BODY_BYTES}")
        except (ValueError, IndexError) as exc:
            self._fail(FanoutError(f"malformed response: {exc}"))
            return
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = bytes(self.buffer[end + 4:total])
        waiter, self.waiter = self.waiter, None
        if len(self.buffer) > total or not self.keep_alive:
            self.close()
        else:
            self.pool.release(self)  # reusable before the caller even wakes up
        if not waiter.done():
            waiter.set_result((status, body))

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
            self.pool.forget(self)


class ConnectionPool:
    """Keep-alive connections to one host:port: at most `max_connections` open or connecting, each connect
    bounded by `connect_timeout_s` (under a partition a connect gets no answer at all; without the bound each
    read would leave a socket in SYN-SENT for minutes)."""

    def __init__(self, host: str, port: int, max_idle: int = 128, max_connections: int = 64,
                 connect_timeout_s: float = 0.5) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[_Connection] = []
        self.all: set[_Connection] = set()
        self.connecting = 0
        self._connects: dict[asyncio.Task[None], asyncio.Future[tuple[int, bytes]]] = {}  # in progress, their waiters
        self.saturated = 0  # requests refused because every allowed connection was in use
        self.host_header = f"{host}:{port}".encode()

    def get(self, path: str) -> asyncio.Future[tuple[int, bytes]]:
        """Start a GET; the future resolves to (status, body) or raises FanoutError."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        request = b"GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n\r\n" % (path.encode(), self.host_header)
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                conn.send(request, waiter)
                return waiter
        if len(self.all) + self.connecting >= self.max_connections:
            self.saturated += 1
            waiter.set_exception(Saturated(f"{self.max_connections} connections to {self.host}:{self.port} "
                                           "busy or connecting"))
            return waiter
        self.connecting += 1
        task = loop.create_task(self._connect_and_send(request, waiter))
        self._connects[task] = waiter
        task.add_done_callback(self._connect_done)
        waiter.add_done_callback(lambda w: task.cancel() if w.cancelled() and not task.done() else None)
        return waiter

    async def _connect_and_send(self, request: bytes, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _transport, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self.host, self.port), self.connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            if not waiter.done():
                waiter.set_exception(Refused(str(exc) or f"no answer to connect in {self.connect_timeout_s:g} s"))
            return
        if waiter.done():  # cancelled (timed out) while connecting
            conn.close()
            return
        self.all.add(conn)
        conn.send(request, waiter)

    def _connect_done(self, task: asyncio.Task[None]) -> None:
        """A connect ended — connected, failed, or cancelled (perhaps before it began: then only here is it counted
        out, and its request, never sent, is cancelled)."""
        self.connecting -= 1
        waiter = self._connects.pop(task)
        if task.cancelled() and not waiter.done():
            waiter.cancel()

    def release(self, conn: _Connection) -> None:
        if conn.closed:
            return
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn.close()

    def forget(self, conn: _Connection) -> None:
        self.all.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    def close(self) -> None:
        """Close every connection and stop every connect; requests still waiting are cancelled (nobody will read their
        failure)."""
        for task in list(self._connects):  # a request still connecting is never sent
            task.cancel()
        for conn in list(self.all):
            if conn.waiter is not None and not conn.waiter.done():
                conn.waiter.cancel()
            conn.close()
        self.idle.clear()
