"""HTTP plumbing shared by every service: app factory, JSON errors, operator auth, request metrics, serving."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from pydantic import BaseModel

from faultlab.core.config import Settings
from faultlab.core.log import Logger
from faultlab.core.messages import Refused, parse

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_BYTES = 16 * 1024
MAX_EVENT_ID = 2**63 - 1  # GET /events: the largest event id `since` may name (a signed 64-bit integer)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS: web.AppKey[RequestMetrics] = web.AppKey("metrics")
MetricsJson = Callable[[web.Request], Awaitable[dict[str, Any]]]
METRICS_JSON: web.AppKey[MetricsJson] = web.AppKey("metrics_json")
"""Optional: what `GET /metrics` answers a client that asks for JSON (default: this process's request counters)."""

disable_created_metrics()  # no *_created series: nothing here reads them, every scrape would carry them
# Latency bucket bounds in ms (Prometheus-style, cumulative on export).
BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


class ApiError(Exception):
    """An error answered to the client as JSON: {"error": message, ...}."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if not raw:
        raise ApiError(400, "a JSON object body is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


M = TypeVar("M", bound=BaseModel)


def checked(model: type[M], data: Any, context: dict[str, Any] | None = None, status: int = 400) -> M:
    """`data` validated by its message model, or a 4xx whose `error` says every problem with its place (and
    `problems` lists them apart)."""
    try:
        return parse(model, data, context)
    except Refused as exc:
        raise ApiError(status, str(exc)[:2000], problems=[p.describe() for p in exc.problems[:50]]) from None


async def read_model(request: web.Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """The request's JSON body as a message of `model` (see `checked`)."""
    return checked(model, await read_json(request), context)


def _given_token(request: web.Request) -> str:
    """The token the client sent: `Bearer <token>`, `Basic` credentials whose password is the token (what
    `requests` and `curl --netrc` send from ~/.netrc), or `X-Admin-Token`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]  # any user name: the password is the token
    return request.headers.get("X-Admin-Token", "")


def require_token(request: web.Request) -> None:
    """Operator endpoints: the token as `Authorization: Bearer <token>`, as the password of `Authorization: Basic`
    (any user), or as `X-Admin-Token`; compared in constant time."""
    expected: str | None = request.app[SETTINGS].admin_token
    given = _given_token(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "operator token required (Authorization: Bearer <token>, or Basic with the token as "
                            "password: `faultlab token --netrc`)")


def since_event(request: web.Request) -> int:
    """The last event id a client of `GET /events` has seen: `?since=`, else `Last-Event-ID` (a stream's reconnect),
    else 0; a 400 when it is not an integer from 0 to MAX_EVENT_ID."""
    try:
        last = int(request.query.get("since", request.headers.get("Last-Event-ID", "0")))
    except ValueError:
        raise ApiError(400, "since must be an integer event id") from None
    if not 0 <= last <= MAX_EVENT_ID:
        raise ApiError(400, f"since must be an event id between 0 and {MAX_EVENT_ID}")
    return last


def wants_json(request: web.Request, default: bool = False) -> bool:
    """JSON when asked (`Accept: application/json`, `?format=json`), text when asked (`text/plain`, OpenMetrics: what
    Prometheus sends); `default` when the client names neither (`*/*`, or no Accept at all)."""
    accept = request.headers.get("Accept", "")
    if request.query.get("format") == "json" or "application/json" in accept:
        return True
    if "text/plain" in accept or "openmetrics" in accept:
        return False
    return default


class RequestMetrics:
    """Request counters and latency histograms per method, route and status, exposed with prometheus_client.

    `faultlab_requests_total` and `faultlab_request_latency_ms` (histogram, BUCKETS_MS) are what the dashboard
    and any Prometheus scrape; `faultlab_request_time_ms_total` (the latency summed per status) gives each
    status's mean latency to `monitor.request_metrics` and the guide's JSON.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = Counter("faultlab_requests", "requests answered", ["service", "method", "endpoint", "status"],
                                 registry=self.registry)
        self._time = Counter("faultlab_request_time_ms", "latency summed, ms", ["service", "method", "endpoint",
                                                                               "status"], registry=self.registry)
        self._latency = Histogram("faultlab_request_latency_ms", "request latency, ms",
                                  ["service", "method", "endpoint"], buckets=BUCKETS_MS, registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}  # labels() looked up once per key

    def observe(self, method: str, route: str, status: int, latency_ms: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self._requests.labels(self.service, method, route, str(status)),
                                              self._time.labels(self.service, method, route, str(status)),
                                              self._latency.labels(self.service, method, route))
        requests, summed, latency = children
        requests.inc()
        summed.inc(latency_ms)
        latency.observe(latency_ms)

    def _per_status(self, metric: Counter) -> dict[tuple[str, str, int], float]:
        return {(s.labels["method"], s.labels["endpoint"], int(s.labels["status"])): s.value
                for family in metric.collect() for s in family.samples if s.name.endswith("_total")}

    @property
    def counts(self) -> dict[tuple[str, str, int], int]:
        """Requests per (method, route, status) since the process started."""
        return {key: int(value) for key, value in self._per_status(self._requests).items()}

    @property
    def status_sums(self) -> dict[tuple[str, str, int], float]:
        """Latency summed per (method, route, status), ms."""
        return self._per_status(self._time)

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"method": m, "endpoint": r, "status": s, "requests": n} for (m, r, s), n in sorted(self.counts.items())]

    def rows(self) -> list[dict[str, Any]]:
        """Requests and mean latency per endpoint and status since the process started (the guide's JSON shape)."""
        sums = self.status_sums
        return [
            {"service_name": self.service, "endpoint": r, "method": m, "status_code": s, "request_count": n,
             "avg_latency": round(sums.get((m, r, s), 0.0) / n, 3)}
            for (m, r, s), n in sorted(self.counts.items())
        ]

    def prometheus(self) -> str:
        """The text exposition (Prometheus 0.0.4 format)."""
        return generate_latest(self.registry).decode()


PROBE_HEADER = "X-Faultlab-Probe"
"""Set by the lab's own probes (the monitor's value audit): their requests are counted apart, so the
dashboard's charts show the load's traffic, not the lab's."""


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    return f"{route} (probe)" if PROBE_HEADER in request.headers else route


def create_app(settings: Settings, service: str, log: Logger,
               openapi: dict[str, Any] | Callable[[], dict[str, Any]] | None = None) -> web.Application:
    """An aiohttp app with JSON error handling, metrics, `GET /metrics` and (given one, or what builds it)
    `GET /openapi.json` wired."""
    metrics = RequestMetrics(service)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = json_response({"error": exc.message, **exc.extra}, status=exc.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = json_response({"error": exc.reason}, status=exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # the last line of defence: a JSON 500 and a log line, never a crash
            log.error("unhandled", path=request.path, error=repr(exc))
            response = json_response({"error": "internal error", "detail": type(exc).__name__}, status=500)
        metrics.observe(request.method, _route_name(request), response.status, (time.perf_counter() - start) * 1000)
        return response

    app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[METRICS] = metrics

    async def prometheus(request: web.Request) -> web.Response:
        # A service with a JSON view of its metrics (the monitor: the guide's clients read it with requests'
        # `Accept: */*`) answers JSON unless the client asks for text, as Prometheus does.
        if wants_json(request, default=METRICS_JSON in app):
            provider = app.get(METRICS_JSON)
            return json_response(await provider(request) if provider is not None else {"metrics": metrics.rows()})
        return web.Response(body=metrics.prometheus().encode(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", prometheus)
    if openapi is not None:
        document: list[bytes] = []

        async def openapi_json(_request: web.Request) -> web.Response:
            if not document:  # built on the first request: a restarted service answers its probes sooner
                document.append(orjson.dumps(openapi() if callable(openapi) else openapi))
            return web.Response(body=document[0], content_type="application/json")

        app.router.add_get("/openapi.json", openapi_json)
    return app


async def serve(app: web.Application, host: str, port: int, log: Logger,
                listening: Callable[[], None] | None = None) -> None:
    """Run the app until SIGTERM/SIGINT, then run its cleanup hooks; `listening` is called once it accepts
    connections."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=1024)
    await site.start()
    log.info("listening", host=host, port=port)
    if listening is not None:
        listening()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        with contextlib.suppress(Exception):
            await runner.cleanup()


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a service's main coroutine on uvloop when available."""
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())

