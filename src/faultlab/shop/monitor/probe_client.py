"""The monitor's health probe of one replica: `GET /health` on one kept-alive HTTP/1.1 connection.

The monitor probes every replica five times a second at rest (the guide's 200 ms); a general-purpose client's
request machinery cost it about 250 µs of CPU per probe, this about 120 µs. It does what a probe needs and no
more: one request at a time, an answer with a Content-Length, and the same outcomes the monitor tells apart — an
answer (status and body), no connection (`ProbeRefused`), a broken exchange (`ProbeFailed`) or a timeout. A
connection that once failed or timed out is closed, so a late answer is never read as the next probe's.
"""

from __future__ import annotations

import asyncio
import contextlib

from yarl import URL

MAX_HEAD_BYTES = 16 * 1024  # a status line and headers longer than this are no health answer
MAX_BODY_BYTES = 4 * 1024 * 1024


class ProbeRefused(OSError):
    """No connection could be made (nobody listens there, or it is unreachable)."""


class ProbeFailed(Exception):
    """The connection was made but the exchange broke: closed before a whole answer, or an answer that is not HTTP."""


class _Answer(asyncio.Protocol):
    """Collects the bytes of one answer at a time on a kept-alive connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            answer = parse_answer(self.buffer)
        except ProbeFailed as exc:
            self.waiter.set_exception(exc)
            return
        if answer is not None:
            status, body, keep_alive, used = answer
            del self.buffer[:used]
            self.waiter.set_result((status, body, keep_alive))

    def eof_received(self) -> bool:
        self._lost()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost()

    def _lost(self) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ProbeFailed("the connection closed before a whole answer"))


def parse_answer(data: bytes | bytearray) -> tuple[int, bytes, bool, int] | None:
    """(status, body, whether the connection stays open, bytes used) of the HTTP/1.1 answer at the start of `data`;
    None while it is incomplete. An answer that is not HTTP, or has no Content-Length, is a ProbeFailed."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > MAX_HEAD_BYTES:
            raise ProbeFailed("no end of headers")
        return None
    lines = bytes(data[:end]).split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProbeFailed(f"not an HTTP answer: {lines[0][:60]!r}")
    length: int | None = None
    keep_alive = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                raise ProbeFailed("bad Content-Length")
            length = int(value)
        elif name == b"connection":
            keep_alive = value.strip().lower() == b"keep-alive"
        elif name == b"transfer-encoding":
            raise ProbeFailed("a chunked answer is no health answer")
    if length is None or length > MAX_BODY_BYTES:
        raise ProbeFailed("no Content-Length (or too long)")
    start = end + 4
    if len(data) < start + length:
        return None
    return int(parts[1]), bytes(data[start:start + length]), keep_alive, start + length


class HealthProbe:
    """`GET <base_url><path>` (`/health` unless told), one at a time, on a connection kept open between probes."""

    def __init__(self, base_url: str, path: str = "/health", headers: dict[str, str] | None = None) -> None:
        url = URL(base_url)
        if url.host is None or url.port is None:
            raise ValueError(f"a replica URL needs a host and a port: {base_url!r}")
        self.host, self.port = url.host, url.port
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.request = f"GET {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nAccept: application/json\r\n{extra}\r\n".encode()
        self._answer: _Answer | None = None

    async def get(self, timeout_s: float) -> tuple[int, bytes]:
        """One probe within `timeout_s` (TimeoutError past it): its status and body. A kept-alive connection the
        replica closed since the last probe is replaced once, as a general-purpose client does."""
        try:
            async with asyncio.timeout(timeout_s):
                reused = self._answer is not None and not self._answer.closed
                if not reused:
                    await self._connect()
                try:
                    return await self._exchange()
                except ProbeFailed:
                    if not reused:
                        raise
                    self.close()
                    await self._connect()
                    return await self._exchange()
        except BaseException:
            self.close()  # a timed-out or broken exchange may still answer: never on this connection
            raise

    async def _connect(self) -> None:
        self.close()
        loop = asyncio.get_running_loop()
        try:
            _transport, self._answer = await loop.create_connection(_Answer, self.host, self.port)
        except OSError as exc:
            raise ProbeRefused(exc.errno, str(exc)) from exc

    async def _exchange(self) -> tuple[int, bytes]:
        answer = self._answer
        assert answer is not None and answer.transport is not None
        if answer.closed:
            raise ProbeFailed("the connection is closed")
        answer.buffer.clear()
        answer.waiter = asyncio.get_running_loop().create_future()
        answer.transport.write(self.request)
        status, body, keep_alive = await answer.waiter
        answer.waiter = None
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        """Close the connection (the next probe opens a new one); safe to call twice."""
        answer, self._answer = self._answer, None
        if answer is not None and answer.transport is not None:
            with contextlib.suppress(Exception):
                answer.transport.close()
