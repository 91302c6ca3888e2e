"""The guide's monitor requests, answered its way: one instance's status, failure rows, JSON metrics.

- `GET /status/{service_name}/{instance_id}`: one row of `/status` (`/status/inventory-svc/1`; the instance may
  also be named `inventory-svc-1`; the other services are `/status/orders-svc/orders-svc` and so on).
- `GET /failures`: every episode also carries the guide's `service_name`, `instance_id` and `failure_type`.
- `GET /metrics` with `Accept: application/json`: the guide's JSON — requests and mean latency per service,
  endpoint, method and status over the last `minutes` (default 5), from `monitor.request_metrics`, where every
  service writes its counts every 5 s. Without that header it stays Prometheus text.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from faultlab.db import RETRIABLE
from faultlab.guide import REPLICA_SERVICE, guide_fault_name, iso
from faultlab.web import METRICS, METRICS_JSON, ApiError, json_response

if TYPE_CHECKING:
    from faultlab.services.monitor.app import HealthMonitor

MAX_MINUTES = 7 * 24 * 60
METRICS_SQL = """
SELECT instance_id AS service_name, endpoint, method, status AS status_code, sum(requests)::bigint AS request_count,
       sum(requests * latency_ms) / nullif(sum(requests), 0) AS avg_latency
FROM monitor.request_metrics WHERE "timestamp" >= $1
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


def failure_row(episode: dict[str, Any]) -> dict[str, Any]:
    """An episode with the guide's failure_audit fields beside faultlab's (times stay UNIX seconds)."""
    kind = episode.get("fault_kind")
    return {**episode, "service_name": REPLICA_SERVICE, "instance_id": str(episode["replica"]),
            "failure_type": guide_fault_name(kind) if kind else "unannounced",
            "resolved_at": episode.get("recovered_at")}


def minutes_of(request: web.Request) -> int:
    value = request.query.get("minutes", "5")
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_MINUTES:
        raise ApiError(400, f"minutes must be a whole number from 1 to {MAX_MINUTES}")
    return int(value)


def register(app: web.Application, monitor: HealthMonitor) -> None:
    """Add the guide's monitor routes (and its JSON answer on /metrics) to the monitor's app."""

    async def instance_status(request: web.Request) -> web.Response:
        service, instance = request.match_info["service_name"], request.match_info["instance_id"]
        status = monitor.status()
        for row in status["instances"]:
            if service == row["service_name"] and instance in (row["instance_id"], row["instance_name"]):
                return json_response({**row, "timestamp": iso()})
        for row in status["services"]:
            if service == row["service_name"] and instance == row["service_name"]:
                return json_response({**row, "instance_id": row["service_name"], "timestamp": iso()})
        raise ApiError(404, "Instance not found", known=[f"{REPLICA_SERVICE}/{r['instance_id']}"
                                                         for r in status["instances"]])

    async def metrics_json(request: web.Request) -> dict[str, Any]:
        minutes = minutes_of(request)
        since = time.time() - minutes * 60
        rows: list[dict[str, Any]]
        source = "monitor.request_metrics"
        try:
            if monitor.pool is None:
                raise ConnectionError("no database")
            async with monitor.pool.acquire() as conn:
                records = await conn.fetch(METRICS_SQL, datetime.fromtimestamp(since, UTC))
            rows = [{**dict(r), "avg_latency": round(r["avg_latency"], 3) if r["avg_latency"] is not None else None}
                    for r in records]
        except (*RETRIABLE, ConnectionError):  # type: ignore[misc]  # RETRIABLE is a tuple of exception types  # the database is away: this process's own counters at least
            rows, source = app[METRICS].rows(), "monitor process (database unavailable)"
        return {"metrics": rows, "period_minutes": minutes, "since": iso(since), "timestamp": iso(),
                "source": source}

    app[METRICS_JSON] = metrics_json
    app.router.add_get("/status/{service_name}/{instance_id}", instance_status)
