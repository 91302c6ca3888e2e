"""One replica's fault proxy: listens on an address and port, forwards each request to the replica, applies faults.

Each client connection gets its own keep-alive connection to the replica, opened at its first request and reused
after; requests and answers pass as received, so with no fault on the replica sees what the client sent and the
client what the replica answered. When the replica refuses a connection or drops one mid-answer, the client's
connection is reset: it sees a connection error, as it would without the proxy (never an answer the replica did
not give).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from faultlab.core.log import Logger
from faultlab.faults.proxy import PROXY_KINDS, RESET, ProxyFault
from faultlab.lab.systems.proxy.http import (
    Counters,
    Message,
    PeerClosed,
    ProtocolError,
    Stream,
    compose,
    read_answer,
    read_request,
    status_answer,
)

RETRYABLE = (b"GET", b"HEAD", b"OPTIONS")  # sent again once when a reused connection turns out closed
LINGER_RESET = struct.pack("ii", 1, 0)  # close with a TCP reset
WRITE_HIGH_BYTES = 256 * 1024
FAULT_HEADER = b"x-faultlab-fault"
INTERMITTENT_BODY = orjson.dumps({"error": "Intermittent error (injected fault)"})  # the shop's replica's words


class ProxyError(RuntimeError):
    """What the proxy could not do (a port in use, an upstream it cannot use); the message says what and where."""


@dataclass(frozen=True)
class Upstream:
    """Where a replica is: host, port and a path prefix, from its base URL (http only)."""

    url: str
    host: str
    port: int
    prefix: bytes

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise ProxyError(f"upstream {url!r}: give a base URL such as http://127.0.0.1:5001")
        try:
            port = parts.port or 80
        except ValueError:
            raise ProxyError(f"upstream {url!r}: bad port") from None
        return cls(url.rstrip("/"), parts.hostname, port, parts.path.rstrip("/").encode())


class Side:
    """One end of a proxied exchange: its buffered reader and its writer."""

    __slots__ = ("stream", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stream = Stream(reader)
        self.writer = writer

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > WRITE_HIGH_BYTES:
            await self.writer.drain()

    @property
    def closed(self) -> bool:
        return self.writer.transport.is_closing() or self.stream.reader.at_eof()

    def close(self) -> None:
        self.writer.transport.close()

    def reset(self) -> None:
        """Close with a TCP reset: the peer sees ECONNRESET, not an orderly end."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.writer.transport.abort()


class Client(Side):
    """A client's connection and the replica connection paired with it."""

    __slots__ = ("upstream",)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.upstream: Side | None = None

    async def gone(self) -> None:
        """Returns once the client has closed its end (bytes it sends meanwhile wait in the buffer)."""
        while await self.stream.fill():
            pass

    def drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


class ReplicaProxy:
    """The proxy in front of one replica; `start()`, then `stop()` (safe twice). Faults: `add`, `remove`."""

    def __init__(self, replica: int, host: str, port: int, upstream: Upstream, log: Logger) -> None:
        self.replica, self.host, self.port, self.upstream = replica, host, port, upstream
        self.log = log
        self.faults: dict[str, ProxyFault] = {}
        self.counters = Counters()
        self._server: asyncio.Server | None = None
        self._clients: dict[Client, asyncio.Task[Any]] = {}

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        await self._listen()

    async def stop(self) -> None:
        for fault in self.faults.values():
            fault.release()
        self.faults.clear()
        await self._close_port(reset=False)
        tasks = list(self._clients.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    async def _listen(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True,
                                                      backlog=1024)
        except OSError as exc:
            raise ProxyError(f"replica {self.replica}: cannot listen on {self.host}:{self.port}: "
                             f"{exc.strerror or exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_port(self, reset: bool) -> None:
        """Stop listening and end every client's connection (with a TCP reset, or closed)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._drop_clients(reset)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    def _drop_clients(self, reset: bool) -> None:
        for client in list(self._clients):
            client.drop_upstream()
            client.reset() if reset else client.close()

    # ---- faults ---------------------------------------------------------------------------------------------------

    async def add(self, fault: ProxyFault) -> None:
        """Make `fault` active (replacing one of its kind); `activated_at` is when it takes effect."""
        self._release(self.faults.pop(fault.kind, None))
        if fault.closes_port:
            await self._close_port(reset=True)
        if not self.listening and not fault.closes_port:
            await self._listen()
        fault.activated_at = time.time()
        faults = {**self.faults, fault.kind: fault}
        self.faults = {k: faults[k] for k in PROXY_KINDS if k in faults}  # applied in the kinds' order

    async def remove(self, kind: str | None) -> list[ProxyFault]:
        """Clear one kind, or every fault; the port listens again if it was closed. What was cleared."""
        kinds = list(self.faults) if kind is None else [kind] if kind in self.faults else []
        removed = [self.faults.pop(k) for k in kinds]
        for fault in removed:
            self._release(fault)
        if not self.listening and not any(f.closes_port for f in self.faults.values()):
            await self._listen()
        return removed

    @staticmethod
    def _release(fault: ProxyFault | None) -> None:
        if fault is not None:
            fault.release()

    # ---- traffic --------------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._clients[client] = task
        try:
            while await self._exchange(client):
                pass
        except (PeerClosed, OSError):
            pass
        except ProtocolError as exc:
            self.log.warning("proxy_protocol_error", error=str(exc))
            client.reset()
        except Exception as exc:  # the last line of defence: this connection ends, the proxy keeps serving
            self.log.error("proxy_unhandled", error=repr(exc))
            client.reset()
        finally:
            self._clients.pop(client, None)
            client.drop_upstream()
            client.close()

    async def _exchange(self, client: Client) -> bool:
        """One request and its answer; False when the client's connection ends after it."""
        request = await read_request(client.stream, lambda: client.write(b"HTTP/1.1 100 Continue\r\n\r\n"))
        faults = self.faults
        if faults:
            path = request.path
            for fault in list(faults.values()):
                if not fault.acts_on(path):
                    continue
                verdict = await fault.on_request(client.gone)
                if verdict == RESET:
                    self.counters.reset += 1
                    client.reset()
                    return False
                if verdict is not None:
                    self.counters.answered_by_fault += 1
                    await client.write(status_answer(verdict, INTERMITTENT_BODY, request.close,
                                                     {FAULT_HEADER: fault.kind.encode()}))
                    return not request.close
        answer = await self._forward(client, request)
        if answer is None:
            client.reset()
            return False
        self.counters.forwarded += 1
        data = answer.raw()
        if self.faults:
            rewriters = [f for f in self.faults.values() if f.rewrites and f.acts_on(request.path)]
            if rewriters:
                data = self._rewritten(answer, rewriters) or data
        await client.write(data)
        return not (request.close or answer.close)

    async def _forward(self, client: Client, request: Message) -> Message | None:
        """The replica's answer to `request`, or None when the replica could not be reached or dropped it."""
        data = request.raw() if not self.upstream.prefix else self._prefixed(request)
        for _attempt in range(2):
            upstream = client.upstream
            fresh = upstream is None or upstream.closed
            if fresh:
                client.drop_upstream()
                try:
                    upstream = Side(*await asyncio.open_connection(self.upstream.host, self.upstream.port))
                except OSError as exc:
                    return self._failed(f"connect: {exc.strerror or exc}")
                client.upstream = upstream
            assert upstream is not None
            try:
                await upstream.write(data)
                answer = await read_answer(upstream.stream, request.first[0])
            except (PeerClosed, OSError) as exc:
                client.drop_upstream()
                if fresh or request.first[0] not in RETRYABLE:
                    return self._failed(f"connection closed before an answer ({type(exc).__name__})")
                continue  # a kept connection the replica had closed: once more on a new one
            except ProtocolError as exc:
                client.drop_upstream()
                return self._failed(str(exc))
            if answer.close:
                client.drop_upstream()
            return answer
        return None

    def _failed(self, error: str) -> Message | None:
        """No answer from the replica: counted, the error kept for `describe`; None (the client is reset)."""
        self.counters.upstream_failures += 1
        self.counters.last_upstream_error = f"{self.upstream.url}: {error}"
        return None

    def _prefixed(self, request: Message) -> bytes:
        method, target, version = request.first
        line, _, rest = request.head.partition(b"\r\n")
        if target.startswith(b"/"):
            line = b" ".join((method, self.upstream.prefix + target, version))
        return line + b"\r\n" + rest + request.body

    def _rewritten(self, answer: Message, rewriters: list[ProxyFault]) -> bytes | None:
        """The answer with each rewriting fault applied (decoded, framed by Content-Length again); None when none
        changed it (or it is not JSON the proxy can read): it goes on as it came."""
        if not 200 <= answer.status < 300:
            return None
        try:
            data = orjson.loads(answer.payload())
        except (ProtocolError, orjson.JSONDecodeError, zlib.error, ValueError):
            return None
        if not sum(fault.rewrite(data) for fault in rewriters):
            return None
        self.counters.rewritten += 1
        return compose(b" ".join(answer.first), answer.headers, orjson.dumps(data), drop=(b"content-encoding",))

    def describe(self) -> dict[str, Any]:
        c = self.counters
        return {"replica": self.replica, "listen": f"{self.host}:{self.port}", "listening": self.listening,
                "upstream": self.upstream.url, "faults": [f.describe() for f in self.faults.values()],
                "connections": len(self._clients),
                "counters": {"forwarded": c.forwarded, "answered_by_fault": c.answered_by_fault, "reset": c.reset,
                             "upstream_failures": c.upstream_failures, "rewritten": c.rewritten},
                "last_upstream_error": c.last_upstream_error}
