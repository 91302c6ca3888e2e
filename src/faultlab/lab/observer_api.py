"""The observer's HTTP API on a port of its own, in the shop monitor's shapes (the dashboard reads it as it reads
the shop's monitor): `GET /status`, `GET /events` (JSON after `since`, or a live stream), `GET /failures`."""

from __future__ import annotations

import orjson
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.core.web import ApiError, create_app, json_response, since_event
from faultlab.lab.observer import Observer
from faultlab.openapi.observer import openapi_document as observer_openapi


class ObserverApi:
    """The handlers, over the observer they read; `start(host, port)` serves them, `stop()` (safe twice) ends it."""

    def __init__(self, observer: Observer, settings: Settings | None = None) -> None:
        self.observer = observer
        self.settings = settings or Settings()
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            web.get("/health", self.health),
            web.get("/status", self.status),
            web.get("/events", self.events),
            web.get("/failures", self.failures),
        ]

    def build(self, server: str = "http://127.0.0.1") -> web.Application:
        app = create_app(self.settings, "observer", get_logger("observer"), openapi=observer_openapi(server))
        app.add_routes(self.routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `port` (0: a free one); the address it listens on."""
        runner = web.AppRunner(self.build(f"http://{host}:{port}"), access_log=None, handle_signals=False,
                               shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0][1] if runner.addresses else port
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def health(self, _request: web.Request) -> web.Response:
        return json_response({"status": "UP", "component": "observer", "lost": self.observer.lost})

    async def status(self, _request: web.Request) -> web.Response:
        return json_response(self.observer.status())

    async def failures(self, _request: web.Request) -> web.Response:
        return json_response({"failures": self.observer.episodes()})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The events after `since` as JSON, or a live stream (Accept: text/event-stream)."""
        last = since_event(request)
        if request.query.get("format", "json") != "json":
            raise ApiError(400, "format must be json (for a live stream, send Accept: text/event-stream instead)")
        observer = self.observer
        if request.query.get("format") == "json" or "text/event-stream" not in request.headers.get("Accept", ""):
            return json_response({"events": observer.since(last), "next": observer.next_id})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        while True:
            pending = observer.since(last)
            for event in pending:
                last = event["id"]
                await response.write(b"id: %d\ndata: %s\n\n" % (last, orjson.dumps(event)))
            if not pending:
                await observer.changed(15)
                if not observer.since(last):
                    await response.write(b": keep-alive\n\n")
