"""The monitor's HTTP API (port 5004): named handlers and one route table — faultlab's paths, the guide's, the trace.

The guide's requests answered its way (`/status/{service_name}/{instance_id}`, the guide's fields on `/failures`,
JSON on `/metrics`) are handlers here like faultlab's own; what turns faultlab's answers into the guide's rows is in
`guide_api.py`, the trace's buffer in `trace.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.db import RETRIABLE
from faultlab.core.guide import REPLICA_SERVICE, health_body, iso
from faultlab.core.messages.monitor import ObservationReport
from faultlab.core.web import (
    METRICS,
    METRICS_JSON,
    ApiError,
    checked,
    create_app,
    json_response,
    read_json,
    require_token,
    since_event,
)
from faultlab.openapi.monitor import MAX_LEASE_S, MAX_READ
from faultlab.openapi.monitor import openapi_document as monitor_openapi
from faultlab.shop.monitor.guide_api import METRICS_SQL, minutes_of
from faultlab.shop.monitor.health_monitor import HealthMonitor
from faultlab.shop.monitor.trace import RECENT_S, int_query, only_query


def observations_of(body: Any, replicas: list[int]) -> list[dict[str, Any]]:
    """The observations of a `POST /reports` body, each checked by the Observation model (a 400 names every
    problem); passed on as sent (fields beyond the model's are kept as detail)."""
    checked(ObservationReport, body, {"replica_ids": replicas})
    return list(body["observations"])


class MonitorApi:
    """The handlers of the monitor's API, over the health monitor they read and feed."""

    def __init__(self, settings: Settings, monitor: HealthMonitor) -> None:
        self.settings = settings
        self.monitor = monitor

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            web.get("/status", self.status),
            web.get("/status/{service_name}/{instance_id}", self.instance_status),  # the guide's
            web.get("/failures", self.failures),
            web.post("/reports", self.reports),
            web.get("/events", self.events),
            web.get("/health", self.health),
            web.post("/trace", self.open_trace),
            web.get("/trace", self.read_trace),
            web.delete("/trace", self.close_trace),
            web.get("/trace/recent", self.recent_trace),
        ]

    def build(self) -> web.Application:
        app = create_app(self.settings, "monitor", self.monitor.log, openapi=monitor_openapi(self.settings))
        app.add_routes(self.routes())
        app[METRICS_JSON] = self.metrics_json  # `GET /metrics` with Accept: application/json: the guide's rows
        return app

    # ---- states and episodes ------------------------------------------------------------------------------------

    async def status(self, _request: web.Request) -> web.Response:
        return json_response(self.monitor.status())

    async def instance_status(self, request: web.Request) -> web.Response:
        """One row of `/status`, the guide's way (`/status/inventory-svc/1`, or `inventory-svc-1`)."""
        service, instance = request.match_info["service_name"], request.match_info["instance_id"]
        status = self.monitor.status()
        for row in status["instances"]:
            if service == row["service_name"] and instance in (row["instance_id"], row["instance_name"]):
                return json_response({**row, "timestamp": iso()})
        for row in status["services"]:
            if service == row["service_name"] and instance == row["service_name"]:
                return json_response({**row, "instance_id": row["service_name"], "timestamp": iso()})
        raise ApiError(404, "Instance not found", known=[f"{REPLICA_SERVICE}/{r['instance_id']}"
                                                         for r in status["instances"]])

    async def failures(self, _request: web.Request) -> web.Response:
        return json_response({"failures": self.monitor.failures()})

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(health_body("monitor", True, observations=self.monitor.observations))

    async def metrics_json(self, request: web.Request) -> dict[str, Any]:
        """The guide's JSON metrics over the last `minutes`, from monitor.request_metrics (this process's own
        counters while the database is away)."""
        minutes = minutes_of(request)
        since = time.time() - minutes * 60
        rows: list[dict[str, Any]]
        source = "monitor.request_metrics"
        try:
            if self.monitor.pool is None:
                raise ConnectionError("no database")
            async with self.monitor.pool.acquire() as conn:
                records = await conn.fetch(METRICS_SQL, datetime.fromtimestamp(since, UTC))
            rows = [{**dict(r), "avg_latency": round(r["avg_latency"], 3) if r["avg_latency"] is not None else None}
                    for r in records]
        except (*RETRIABLE, ConnectionError):  # type: ignore[misc]  # RETRIABLE is a tuple of exception types
            rows, source = request.app[METRICS].rows(), "monitor process (database unavailable)"
        return {"metrics": rows, "period_minutes": minutes, "since": iso(since), "timestamp": iso(),
                "source": source}

    # ---- evidence and events ------------------------------------------------------------------------------------

    async def reports(self, request: web.Request) -> web.Response:
        require_token(request)
        observations = observations_of(await read_json(request), self.settings.replica_ids)
        for obs in observations:
            self.monitor.ingest(obs)
        return json_response({"accepted": len(observations)}, status=202)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The event history after `since` as JSON, or a live stream (Accept: text/event-stream)."""
        last = since_event(request)
        if request.query.get("format", "json") != "json":
            raise ApiError(400, "format must be json (for a live stream, send Accept: text/event-stream instead)")
        log = self.monitor.events
        if request.query.get("format") == "json" or "text/event-stream" not in request.headers.get("Accept", ""):
            return json_response({"events": log.since(last), "next": log.next_id})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        while True:
            pending = log.since(last)
            for event in pending:
                last = event["id"]
                await response.write(b"id: %d\ndata: %s\n\n" % (last, orjson.dumps(event)))
            if pending:
                continue  # events may have arrived while writing: look again before waiting
            async with log.changed:
                if not log.since(last):
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(log.changed.wait(), 15)
            if not log.since(last):
                await response.write(b": keep-alive\n\n")

    # ---- the detector study's trace (operator only) -------------------------------------------------------------

    async def open_trace(self, request: web.Request) -> web.Response:
        """Open a recording, or renew the lease of the one open."""
        require_token(request)
        only_query(request)
        body = await read_json(request)
        lease = body.get("lease_s", 30)
        if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 1 <= lease <= MAX_LEASE_S:
            raise ApiError(400, f"lease_s must be a number of seconds between 1 and {MAX_LEASE_S:g}")
        trace = self.monitor.trace
        trace.open(float(lease))
        return json_response({"recording": True, "next": trace.next_id, "lease_s": lease}, status=201)

    async def read_trace(self, request: web.Request) -> web.Response:
        require_token(request)
        only_query(request, "since", "limit")
        since = int_query(request, "since", 0, 2**62)
        limit = int_query(request, "limit", MAX_READ, MAX_READ)
        trace = self.monitor.trace
        entries = trace.since(since, max(1, limit))
        return json_response({"observations": entries, "next": entries[-1]["n"] if entries else since,
                              "dropped": trace.dropped, "recording": trace.recording})

    async def recent_trace(self, request: web.Request) -> web.Response:
        """The observations of the last `seconds` (at most RECENT_S), kept whether or not a recording is open."""
        only_query(request, "seconds")
        seconds = int_query(request, "seconds", int(RECENT_S), int(RECENT_S))
        return json_response({"observations": self.monitor.trace.recent_since(time.time() - seconds),
                              "kept_s": RECENT_S})

    async def close_trace(self, request: web.Request) -> web.Response:
        require_token(request)
        only_query(request)
        return json_response({"recording": False, "recorded": self.monitor.trace.close()})
