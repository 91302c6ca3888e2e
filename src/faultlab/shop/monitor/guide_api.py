"""The guide's monitor answers, from faultlab's: failure rows, the JSON metrics' query (handlers: `api.py`).

- `GET /status/{service_name}/{instance_id}`: one row of `/status` (`/status/inventory-svc/1`; the instance may
  also be named `inventory-svc-1`; the other services are `/status/orders-svc/orders-svc` and so on).
- `GET /failures`: every episode also carries the guide's `service_name`, `instance_id` and `failure_type`.
- `GET /metrics` with `Accept: application/json`: the guide's JSON — requests and mean latency per service,
  endpoint, method and status over the last `minutes` (default 5), from `monitor.request_metrics`, where every
  service writes its counts every 5 s. Without that header it stays Prometheus text.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from faultlab.core.guide import REPLICA_SERVICE
from faultlab.core.web import ApiError
from faultlab.faults.registry import guide_fault_name

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
