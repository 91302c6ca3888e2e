"""The fault proxy's control API: named handlers in one route table, every fault route behind the operator token.

`GET /replicas` lists each replica's proxy; `POST /replicas/{replica}/faults` puts a fault on its traffic,
`DELETE /replicas/{replica}/faults[?kind=]` clears one kind or all, `POST /reset` clears everything; `GET /health`
is open. Faults are answered as a replica's own fault API answers them (`fault.kind`, `activated_at`,
`cleared_at`), so the experiment reads either the same way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.guide import health_body
from faultlab.core.log import Logger
from faultlab.core.messages import Refused
from faultlab.core.web import ApiError, create_app, json_response, read_json, require_token
from faultlab.lab.systems.proxy.proxies import FaultProxy, UnknownReplica
from faultlab.lab.systems.proxy.server import ProxyError
from faultlab.openapi.proxy import openapi_document


class ControlApi:
    """The handlers of the control API over one `FaultProxy`; `start(host, port)`, `stop()` (safe twice)."""

    def __init__(self, proxy: FaultProxy, settings: Settings, log: Logger) -> None:
        if not settings.admin_token:
            raise ProxyError("the control API needs an operator token (FAULTLAB_ADMIN_TOKEN)")
        self.proxy = proxy
        self.settings = settings
        self.log = log
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            web.get("/health", self.health),
            web.get("/replicas", self.replicas),
            web.get("/replicas/{replica}/faults", self.list_faults),
            web.post("/replicas/{replica}/faults", self.inject),
            web.delete("/replicas/{replica}/faults", self.clear),
            web.post("/reset", self.reset),
        ]

    def build(self, url: str) -> web.Application:
        app = create_app(self.settings, "proxy", self.log, openapi=openapi_document(url))
        app.add_routes(self.routes())
        return app

    async def start(self, host: str, port: int) -> None:
        """Serve on host:port (0: a free port; `url` says which); ProxyError when the port is taken."""
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._runner = web.AppRunner(self.build(f"http://{shown}:{port}"), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise ProxyError(f"control API: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        if port == 0:
            port = self._runner.addresses[0][1]
        self.url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def _replica(self, request: web.Request) -> int:
        text = request.match_info["replica"]
        if not (text.isascii() and text.isdigit()) or len(text) > 3 or int(text) not in self.proxy.replicas:
            raise ApiError(404, f"no replica {text[:8]!r} behind this proxy", known=self.proxy.replicas)
        return int(text)

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(health_body("proxy", True, replicas=len(self.proxy.replicas)))

    async def replicas(self, request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"replicas": self.proxy.describe()})

    async def list_faults(self, request: web.Request) -> web.Response:
        require_token(request)
        replica = self._replica(request)
        return json_response({"replica": replica, "faults": self.proxy.faults(replica)})

    async def inject(self, request: web.Request) -> web.Response:
        require_token(request)
        replica = self._replica(request)
        body = await read_json(request)
        params: dict[str, Any] = {k: v for k, v in body.items() if k != "kind"}
        answer = await self._checked(self.proxy.inject_fault(replica, body.get("kind"), params))
        return json_response(answer, status=201)

    async def clear(self, request: web.Request) -> web.Response:
        require_token(request)
        replica = self._replica(request)
        unknown = set(request.query) - {"kind"}
        if unknown or len(request.query.getall("kind", [])) > 1:
            raise ApiError(400, "the only query parameter is one `kind`")
        return json_response(await self._checked(self.proxy.clear_faults(replica, request.query.get("kind"))))

    async def reset(self, request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"replicas": await self._checked(self.proxy.reset())})

    @staticmethod
    async def _checked(work: Any) -> Any:
        """`work` awaited; bad input answered 400 with every problem, what cannot be done 409 (nothing changed)."""
        try:
            return await work
        except Refused as exc:
            raise ApiError(400, str(exc)[:2000], problems=[p.describe() for p in exc.problems[:50]]) from None
        except UnknownReplica as exc:
            raise ApiError(404, str(exc)) from None
        except ProxyError as exc:
            raise ApiError(409, str(exc)) from None
