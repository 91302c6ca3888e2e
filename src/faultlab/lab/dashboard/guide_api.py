"""The guide's dashboard API: `GET /api/health`, `/api/instances`, `/api/summary`, `/api/failures`, `/api/metrics`.

Each answer is gathered when asked, as the guide's dashboard did: every service's `/health`, the monitor's
`/status`, `/failures` and JSON `/metrics` (from `monitor.request_metrics`), the voter's `/voting/stats`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from faultlab.core.client import ApiCallError, LabClient, Unreachable
from faultlab.core.config import Settings
from faultlab.core.guide import iso, replica_name
from faultlab.core.web import ApiError, json_response

TIMEOUT_S = 2.0
MAX_HOURS = 7 * 24


def hours_of(request: web.Request, default: int) -> int:
    value = request.query.get("hours", str(default))
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_HOURS:
        raise ApiError(400, f"hours must be a whole number from 1 to {MAX_HOURS}")
    return int(value)


def service_urls(settings: Settings) -> dict[str, str]:
    """The guide's service names and where each answers."""
    urls = {"orders-svc": settings.service_url("orders")}
    urls.update({replica_name(r): settings.replica_url(r) for r in settings.replica_ids})
    urls.update({"monitor-svc": settings.service_url("monitor"), "voter-svc": settings.service_url("voter"),
                 "dashboard": settings.service_url("dashboard")})
    return urls


def instance_row(instance: dict[str, Any]) -> dict[str, Any]:
    """A monitor instance row with the guide's instance_status times (ISO) beside faultlab's."""
    last, since = instance.get("last_check"), instance.get("since")
    return {**instance, "last_health_check": iso(last) if last else None, "updated_at": iso(since) if since else None}


def summary(health: dict[str, dict[str, Any]], instances: list[dict[str, Any]], failures: list[dict[str, Any]],
            metrics: list[dict[str, Any]], voting: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """The guide's `/api/summary` from what the services answered (pure: unit-tested on literal inputs)."""
    healthy = sum(1 for s in health.values() if s["status"] == "UP")
    active = sum(1 for i in instances if i.get("status") == "ON")

    def started(f: dict[str, Any]) -> float:
        return float(f.get("activated_at") or f.get("detected_at") or 0.0)

    day = [f for f in failures if started(f) >= now - 86400]
    requests = sum(int(m.get("request_count") or 0) for m in metrics)
    weighted = sum(float(m.get("avg_latency") or 0.0) * int(m.get("request_count") or 0) for m in metrics)
    voted = (voting or {}).get("latency_ms") or {}
    return {
        "timestamp": iso(now),
        "services": {"total": len(health), "healthy": healthy, "unhealthy": len(health) - healthy,
                     "health_percentage": round(100 * healthy / len(health), 2) if health else 0},
        "instances": {"total": len(instances), "active": active, "inactive": len(instances) - active,
                      "availability_percentage": round(100 * active / len(instances), 2) if instances else 0},
        "failures": {"total_24h": len(day), "recent_1h": sum(1 for f in day if started(f) >= now - 3600)},
        "performance": {"avg_latency_ms": round(weighted / requests, 2) if requests else 0,
                        "max_p95_latency_ms": voted.get("p95") or 0,
                        "p95_of": "voted reads since the voter started",
                        "total_requests_1h": requests},
    }


class GuideDashboardApi:
    """The guide's /api handlers, over their own API client (opened and closed with the dashboard's app)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.urls = service_urls(settings)
        self.monitor, self.voter = settings.service_url("monitor"), settings.service_url("voter")
        self.client: LabClient | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/health", self.api_health),
            web.get("/api/instances", self.api_instances),
            web.get("/api/failures", self.api_failures),
            web.get("/api/metrics", self.api_metrics),
            web.get("/api/summary", self.api_summary),
        ]

    async def open(self, _app: web.Application) -> None:
        self.client = await LabClient(self.settings, timeout_s=TIMEOUT_S).start()

    async def close(self, _app: web.Application) -> None:
        if self.client is not None:
            await self.client.stop()
            self.client = None

    async def get(self, url: str) -> tuple[int, Any]:
        """The status and JSON answer (JSON asked for); ValueError for an answer that is not JSON."""
        assert self.client is not None
        status, body = await self.client.send("GET", url)
        if isinstance(body, str):
            raise ValueError(f"not JSON: {body[:80]!r}")
        return status, body

    async def upstream(self, url: str) -> Any:
        """A JSON answer from another service, or a 503 that says which did not answer."""
        try:
            status, body = await self.get(url)
        except (ApiCallError, ValueError) as exc:
            why = ("timeout" if exc.timed_out else exc.reason) if isinstance(exc, Unreachable) else type(exc).__name__
            raise ApiError(503, f"{url} did not answer: {why}") from None
        if status != 200:
            raise ApiError(503, f"{url} answered HTTP {status}")
        return body

    async def check(self, name: str, url: str) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        try:
            status, data = await self.get(f"{url}/health")
        except Unreachable as exc:
            return name, {"status": "DOWN", "response_time": 0, "error": exc.reason}
        except (ApiCallError, ValueError) as exc:
            return name, {"status": "DOWN", "response_time": 0, "error": str(exc) or type(exc).__name__}
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        if status != 200:
            return name, {"status": "DOWN", "response_time": 0, "error": f"HTTP {status}"}
        up = isinstance(data, dict) and data.get("status") == "UP"
        return name, {"status": "UP" if up else "DOWN", "response_time": elapsed_ms, "data": data}

    async def all_health(self) -> dict[str, dict[str, Any]]:
        return dict(await asyncio.gather(*(self.check(n, u) for n, u in self.urls.items())))

    async def instances(self) -> list[dict[str, Any]]:
        return [instance_row(i) for i in (await self.upstream(f"{self.monitor}/status"))["instances"]]

    async def failures(self, hours: int) -> list[dict[str, Any]]:
        since = time.time() - hours * 3600
        rows = (await self.upstream(f"{self.monitor}/failures"))["failures"]
        return [f for f in reversed(rows) if (f.get("activated_at") or f.get("detected_at") or 0) >= since]

    async def metrics(self, hours: int) -> list[dict[str, Any]]:
        answer = await self.upstream(f"{self.monitor}/metrics?minutes={hours * 60}")  # the client asks for JSON
        return list(answer["metrics"])

    async def api_health(self, _request: web.Request) -> web.Response:
        return json_response(await self.all_health())

    async def api_instances(self, _request: web.Request) -> web.Response:
        return json_response(await self.instances())

    async def api_failures(self, request: web.Request) -> web.Response:
        return json_response(await self.failures(hours_of(request, 24)))

    async def api_metrics(self, request: web.Request) -> web.Response:
        return json_response(await self.metrics(hours_of(request, 1)))

    async def api_summary(self, _request: web.Request) -> web.Response:
        health, rows, recent, measured, voting = await asyncio.gather(
            self.all_health(), self.instances(), self.failures(24), self.metrics(1),
            self.upstream(f"{self.voter}/voting/stats"))
        return json_response(summary(health, rows, recent, measured, voting, time.time()))
