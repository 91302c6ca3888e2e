"""A replica stand-in for the fault proxy's tests (a small aiohttp app on loopback) and the helpers they share."""

from __future__ import annotations

import gzip
import socket
from collections import Counter
from typing import Any

import aiohttp
import orjson
from aiohttp import web

TOKEN = "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
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
