"""HTTP/1.1 framing for the fault proxy: whole messages read from a buffered stream, their bytes kept as received.

The proxy forwards a message's bytes untouched (head and body, chunked framing included) unless a fault rewrites
the answer; then the body is decoded (chunks joined, gzip or deflate undone) and sent again with a Content-Length.
Bodies are read whole: the answers the proxy stands in front of are small JSON.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

HEAD_LIMIT = 64 * 1024
BODY_LIMIT = 32 * 1024 * 1024
READ_SIZE = 64 * 1024
NO_BODY_STATUSES = (204, 304)


class ProtocolError(Exception):
    """A message the proxy cannot frame (malformed, too large, or cut short): its connection is dropped."""


class PeerClosed(ProtocolError):
    """The peer closed the connection before the first byte of a message."""


class Stream:
    """A StreamReader with the proxy's own buffer: bytes read ahead (a pipelined request) wait there."""

    __slots__ = ("buf", "reader")

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.buf = bytearray()

    async def fill(self) -> bool:
        """Read what has arrived into the buffer; False at the end of the stream."""
        if len(self.buf) > HEAD_LIMIT + BODY_LIMIT:
            raise ProtocolError("peer sends more than the proxy buffers")
        data = await self.reader.read(READ_SIZE)
        self.buf += data
        return bool(data)

    async def head(self) -> bytes:
        """The start line and headers, up to the blank line; PeerClosed when the stream ends before any byte."""
        start = 0
        while True:
            end = self.buf.find(b"\r\n\r\n", start)
            if end >= 0:
                head = bytes(self.buf[:end + 4])
                del self.buf[:end + 4]
                return head
            if len(self.buf) > HEAD_LIMIT:
                raise ProtocolError("headers larger than 64 KiB")
            start = max(0, len(self.buf) - 3)
            if not await self.fill():
                raise PeerClosed() if not self.buf else ProtocolError("stream ended inside the headers")

    async def take(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not await self.fill():
                raise ProtocolError("stream ended inside a body")
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    async def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > HEAD_LIMIT or not await self.fill():
                raise ProtocolError("bad chunk framing")
        data = bytes(self.buf[:end + 2])
        del self.buf[:end + 2]
        return data

    async def rest(self) -> bytes:
        while await self.fill():
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data


@dataclass(slots=True)
class Message:
    """One request or answer: its head and body as received, and what framing says about them."""

    head: bytes
    first: list[bytes]  # request: method, target, version; answer: version, status, reason
    headers: dict[bytes, bytes]  # names lower-cased; the last of a repeated header
    body: bytes = b""
    chunked: bool = False
    close: bool = False  # the connection ends after this message

    @property
    def path(self) -> str:
        return self.first[1].split(b"?", 1)[0].decode("latin-1")

    @property
    def status(self) -> int:
        return int(self.first[1])

    def raw(self) -> bytes:
        return self.head + self.body

    def payload(self) -> bytes:
        """The body decoded: chunks joined, gzip or deflate undone (ProtocolError when it cannot be)."""
        body = dechunk(self.body) if self.chunked else self.body
        encoding = self.headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding in (b"gzip", b"x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == b"deflate":
            return zlib.decompress(body)
        if encoding != b"identity":
            raise ProtocolError(f"cannot decode content-encoding {encoding.decode('latin-1')}")
        return body


def parse_head(head: bytes, request: bool) -> Message:
    lines = head[:-4].split(b"\r\n")
    first = lines[0].split(b" ", 2)
    if len(first) < 2 or (request and (len(first) != 3 or not first[2].startswith(b"HTTP/1."))) or \
            (not request and (not first[0].startswith(b"HTTP/1.") or not first[1].isdigit())):
        raise ProtocolError("not an HTTP/1.x message")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProtocolError("malformed header line")
        name, value = name.lower(), value.strip()
        if name == b"content-length" and headers.get(name, value) != value:
            raise ProtocolError("conflicting Content-Length headers")
        headers[name] = value
    version = first[2] if request else first[0]
    connection = headers.get(b"connection", b"").lower()
    close = b"close" in connection if version != b"HTTP/1.0" else b"keep-alive" not in connection
    return Message(head, first, headers, close=close)


async def read_body(stream: Stream, message: Message, to_close: bool) -> None:
    """The message's body by its framing: chunked, Content-Length, else (an answer) to the end of the stream."""
    encoding = message.headers.get(b"transfer-encoding")
    if encoding is not None and b"chunked" in encoding.lower():
        message.chunked = True
        message.body = await _chunked(stream)
        return
    length = message.headers.get(b"content-length")
    if length is not None:
        if not length.isdigit() or int(length) > BODY_LIMIT:
            raise ProtocolError("bad or too large Content-Length")
        message.body = await stream.take(int(length))
    elif to_close:
        message.body = await stream.rest()
        message.close = True  # its body ran to the end of the connection: the client's ends after it too


async def _chunked(stream: Stream) -> bytes:
    parts = []
    total = 0
    while True:
        line = await stream.line()
        parts.append(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        if size == 0:
            while (trailer := await stream.line()) != b"\r\n":
                parts.append(trailer)
            parts.append(b"\r\n")
            return b"".join(parts)
        total += size
        if total > BODY_LIMIT:
            raise ProtocolError("chunked body too large")
        parts.append(await stream.take(size + 2))


def dechunk(raw: bytes) -> bytes:
    out: list[bytes] = []
    at = 0
    while True:
        end = raw.index(b"\r\n", at)
        size = int(raw[at:end].split(b";", 1)[0].strip(), 16)
        if size == 0:
            return b"".join(out)
        out.append(raw[end + 2:end + 2 + size])
        at = end + 4 + size


async def read_request(stream: Stream, send_continue: Callable[[], Awaitable[None]]) -> Message:
    """The next request (PeerClosed at a clean end); `send_continue` answers `Expect: 100-continue` first."""
    message = parse_head(await stream.head(), request=True)
    if message.headers.get(b"expect", b"").lower() == b"100-continue" and not stream.buf:
        await send_continue()
    await read_body(stream, message, to_close=False)
    return message


async def read_answer(stream: Stream, method: bytes) -> Message:
    """The answer to a request with `method` (interim 1xx answers skipped: the proxy sent its own 100)."""
    while True:
        message = parse_head(await stream.head(), request=False)
        status = message.status
        if 100 <= status < 200 and status != 101:
            continue
        if method != b"HEAD" and status not in NO_BODY_STATUSES and status != 101:
            await read_body(stream, message, to_close=True)
        return message


def compose(first_line: bytes, headers: dict[bytes, bytes], body: bytes, drop: tuple[bytes, ...] = ()) -> bytes:
    """A message with a Content-Length for `body` (headers in `drop`, and any framing header, left out)."""
    skip = {b"content-length", b"transfer-encoding", *drop}
    lines = [first_line, *(name + b": " + value for name, value in headers.items() if name not in skip),
             b"content-length: " + str(len(body)).encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def status_answer(status: int, body: bytes, close: bool, extra: dict[bytes, bytes] | None = None) -> bytes:
    """An answer the proxy makes itself (an injected error), JSON."""
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b"Error"
    headers = {b"content-type": b"application/json", **(extra or {})}
    if close:
        headers[b"connection"] = b"close"
    return compose(b"HTTP/1.1 %d %s" % (status, reason), headers, body)


@dataclass(slots=True)
class Counters:
    """What one replica's proxy has done since it started."""

    forwarded: int = 0
    answered_by_fault: int = 0
    reset: int = 0
    upstream_failures: int = 0
    rewritten: int = 0
    last_upstream_error: str | None = None
