"""The steady-state hypothesis: probes with tolerances, checked before anything is broken and after the rollback.

Each probe answers ok or not with what it saw; the hypothesis holds when every probe passes. Before the run the
probes are tried until they pass or the hypothesis' timeout is over (a lab that has just started needs a moment);
after the rollback the same, and what still fails is reported as the lab not steady again.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faultlab.core.client import ApiCallError
from faultlab.core.said import Said, say
from faultlab.lab.experiment_file import HttpProbe, ReplicasOn, SteadyState, VotedReads

Call = Callable[..., Awaitable[tuple[int, Any]]]
UrlOf = Callable[[str], str]  # a service's base URL by its name (orders, voter, monitor, dashboard)


def unsteady(status: dict[str, Any]) -> list[Said | str]:
    """Why the lab is not steady: replicas not ON or with a fault still active (empty when steady)."""
    problems: list[Said | str] = []
    for inst in status.get("instances", []):
        faults = (inst.get("health") or {}).get("faults") or []
        if inst.get("status") != "ON":
            problems.append(say("replica_not_on", replica=inst["replica"], status=inst.get("status"),
                                reason=inst.get("reason")))
        elif faults:
            problems.append(say("replica_has_faults", replica=inst["replica"], faults=list(faults)))
    return problems


class Probes:
    """Runs a hypothesis' probes against a system under test: `url_of` names its services' addresses, `call` is the
    API client's `send`, `monitor_status` reads its monitor's view in the shop monitor's shape (None: its monitor's
    `/status`), `voted_path` is where its voter answers every product."""

    def __init__(self, url_of: UrlOf, call: Call,
                 monitor_status: Callable[[], Awaitable[dict[str, Any]]] | None = None,
                 voted_path: str = "/inventory/voted") -> None:
        self.url_of = url_of
        self.call = call
        self.monitor_status = monitor_status
        self.voted_path = voted_path

    async def _status(self) -> tuple[int, Any]:
        if self.monitor_status is not None:
            return 200, await self.monitor_status()
        return await self.call("GET", f"{self.url_of('monitor')}/status")

    async def replicas_on(self, probe: ReplicasOn) -> dict[str, Any]:
        status, body = await self._status()
        if status != 200:
            return {"ok": False, "detail": say("monitor_answered", status=status)}
        instances = body.get("instances", [])
        problems = unsteady(body)
        healthy = len(instances) - len(problems)
        needed = probe.min_on or len(instances)
        return {"ok": healthy >= needed and bool(instances), "on": healthy, "needed": needed,
                "detail": say("probe_problems", problems=problems) if problems else say("replicas_on", n=healthy)}

    async def http(self, probe: HttpProbe) -> dict[str, Any]:
        status, body = await self.call("GET", f"{self.url_of(probe.service)}{probe.path}")
        detail = say("http_answered", service=probe.service, path=probe.path, status=status)
        if status not in probe.status and isinstance(body, dict) and body.get("error"):
            detail = say("http_answered_error", service=probe.service, path=probe.path, status=status,
                         error=str(body["error"])[:120])
        return {"ok": status in probe.status, "status": status, "detail": detail}

    async def voted_reads(self, probe: VotedReads) -> dict[str, Any]:
        url = f"{self.url_of('voter')}{self.voted_path}"
        latencies, ok = [], 0
        for _ in range(probe.count):
            started = time.perf_counter()
            with contextlib.suppress(ApiCallError):
                status, _body = await self.call("GET", url, timeout_s=2.0)
                ok += status == 200
            latencies.append((time.perf_counter() - started) * 1000)
        rate = 100 * ok / probe.count
        p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18] if len(latencies) > 1 else latencies[0]
        passed = rate >= probe.min_success_rate and (probe.max_p95_ms is None or p95 <= probe.max_p95_ms)
        return {"ok": passed, "success_rate": round(rate, 2), "p95_ms": round(p95, 2),
                "detail": say("voted_reads_answered", ok=ok, count=probe.count, p95_ms=round(p95, 1))}

    async def run(self, probe: Any) -> dict[str, Any]:
        handler = getattr(self, probe.probe.replace("-", "_"))
        try:
            result: dict[str, Any] = await handler(probe)
        except ApiCallError as exc:
            result = {"ok": False, "detail": say("not_reached", error=f"{type(exc).__name__}: {exc}"[:200])}
        return {"probe": probe.probe, **result}

    async def hypothesis(self, steady: SteadyState) -> dict[str, Any]:
        """Every probe, tried again until all pass or `timeout_s` is over: {"ok", "probes": [...], "seconds"}."""
        started = time.monotonic()
        deadline = started + steady.timeout_s
        while True:
            results = [await self.run(probe) for probe in steady.probes]
            passed = all(r["ok"] for r in results)
            if passed or time.monotonic() >= deadline:
                return {"ok": passed, "probes": results, "seconds": round(time.monotonic() - started, 3)}
            await asyncio.sleep(0.2)


def failures(hypothesis: dict[str, Any]) -> list[Said]:
    """What did not hold, one sentence per failing probe."""
    return [say("probe_failed", probe=r["probe"], detail=r.get("detail")) for r in hypothesis.get("probes", [])
            if not r.get("ok")]
