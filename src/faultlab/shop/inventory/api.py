"""An inventory replica's HTTP API (ports 5001-5003): named handlers and one route table — stock reads, health, what
it applied, the operator's fault endpoints and the guide's `POST /inject-failure` (`guide_api.py`).

Active faults act on `/health` and `/inventory…` requests through one middleware (a fault that answers for the
replica, e.g. intermittent's 500, answers before the handler runs).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.guide import health_body
from faultlab.core.log import Logger
from faultlab.core.messages.inventory import AppliedRequest
from faultlab.core.protocol import HISTORY_LEN
from faultlab.core.web import ApiError, Handler, create_app, json_response, read_json, read_model, require_token
from faultlab.faults import FaultError, FaultSet, exits_process, parse_fault, replica_kinds
from faultlab.faults.base import Fault
from faultlab.openapi.inventory import openapi_document as inventory_openapi
from faultlab.shop.inventory import guide_api
from faultlab.shop.inventory.replica import LogApplier

FAULTED_PREFIXES = ("/health", "/inventory")
CRASH_DELAY_S = 0.02  # time to answer the operator before the process exits
PRODUCT_MAX_LEN = 32


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class InventoryApi:
    """The handlers of one replica's API, over its log applier (the state it serves), its faults and the reporter
    that tells the monitor about them."""

    def __init__(self, settings: Settings, replica: int, applier: LogApplier, faults: FaultSet,
                 reporter: MonitorReporter, log: Logger) -> None:
        self.settings = settings
        self.replica = replica
        self.applier = applier
        self.faults = faults
        self.reporter = reporter
        self.log = log
        self.started_at = time.time()

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            web.get("/health", self.health),
            web.post("/applied", self.applied),
            web.get("/inventory", self.inventory),
            web.get("/inventory/{product_id}", self.one_product),
            web.post("/faults", self.post_fault),
            web.delete("/faults", self.delete_faults),
            web.get("/faults", self.list_faults),
            web.post("/inject-failure", self.inject_failure),  # the guide's
        ]

    def build(self) -> web.Application:
        settings, replica = self.settings, self.replica
        app = create_app(settings, "inventory", self.log, openapi=lambda: inventory_openapi(settings, replica))
        app.middlewares.append(self.inject)
        app.add_routes(self.routes())
        return app

    @web.middleware
    async def inject(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The active faults' request hooks, on the faulted paths: the first that answers answers for the replica."""
        if self.faults.active and request.path.startswith(FAULTED_PREFIXES):
            for fault in self.faults.request_hooks():
                answer = await fault.on_request(request)
                if answer is not None:
                    self.applier.publish_error("served_error", f"{fault.kind} fault answered {answer.status}")
                    return answer
        return await handler(request)

    # ---- reads ----------------------------------------------------------------------------------------------------

    def product_item(self, product_id: str, history: int) -> dict[str, Any]:
        view = self.applier.view
        product = view.products[product_id]
        item: dict[str, Any] = {
            "product_id": product_id,
            "available_quantity": product.available,
            "reserved_quantity": product.reserved,
            "instance_id": str(self.replica),  # the guide's INSTANCE_ID
            "replica": self.replica,
            "timestamp": _iso(time.time()),
            "position": product.version,
            "applied_seq": view.applied_seq,
        }
        if history:
            recent = product.history
            item["history"] = [list(h) for h in (list(recent)[-history:] if history < len(recent) else recent)]
        return self.faults.rewrite(item)

    @staticmethod
    def wants_history(request: web.Request) -> int:
        """How many recent versions to include: ?history=N (1 = all kept), 0 or absent = none."""
        value = request.query.get("history", "0")
        if not (value.isascii() and value.isdigit()) or len(value) > 4:  # "²".isdigit() but int("²") fails
            raise ApiError(400, f"history must be a count of versions, 0 to {HISTORY_LEN}")
        count = int(value)
        return HISTORY_LEN if count == 1 else min(count, HISTORY_LEN)

    async def inventory(self, request: web.Request) -> web.Response:
        history = self.wants_history(request)
        view = self.applier.view
        items = [self.product_item(pid, history) for pid in sorted(view.products)]
        return json_response({"instance_id": str(self.replica), "replica": self.replica,
                              "applied_seq": view.applied_seq, "inventory": items})

    async def one_product(self, request: web.Request) -> web.Response:
        product_id = request.match_info["product_id"]
        history = self.wants_history(request)
        if len(product_id) > PRODUCT_MAX_LEN or product_id not in self.applier.view.products:
            raise ApiError(404, f"unknown product {product_id[:PRODUCT_MAX_LEN]!r}")
        return json_response(self.product_item(product_id, history))

    async def applied(self, request: web.Request) -> web.Response:
        """What this replica applied for some orders (the orders service's reconciler asks)."""
        asked = await read_model(request, AppliedRequest)
        parsed = [uuid.UUID(i) for i in asked.order_ids]
        rows = await self.applier.store.applied_for(parsed)
        return json_response({"replica": self.replica, "applied": rows})

    async def health(self, _request: web.Request) -> web.Response:
        status = self.applier.status()
        return json_response(health_body(
            "inventory", self.applier.assigned, self.replica, pid=os.getpid(), started_at=self.started_at, **status,
            faults=[f["kind"] for f in self.faults.describe()], **guide_api.failure_fields(self.faults)))

    # ---- faults ---------------------------------------------------------------------------------------------------

    def report_fault(self, kind: str, fault: Fault, at: float) -> None:
        self.reporter.report(observation(self.replica, kind, ok=kind == "fault_cleared", source="replica", at=at,
                                         fault=fault.describe()), urgent=True)

    async def inject_fault(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Activate the fault a body describes: (201, or 202 for a crash that exits in CRASH_DELAY_S; answer)."""
        try:
            fault = parse_fault(body)
        except FaultError as exc:
            raise ApiError(400, str(exc)) from None
        replica, log = self.replica, self.log
        if exits_process(fault):
            # Announce the exact moment of the exit, then exit at that moment: the acknowledgement is the
            # activation time, and it can never come after the evidence of the crash.
            fault.activated_at = time.time() + CRASH_DELAY_S
            log.warning("fault_injected", kind=fault.kind, params=fault.describe()["params"])
            await self.reporter.send_now(observation(replica, "fault_injected", ok=False, source="replica",
                                                     at=fault.activated_at, fault=fault.describe()))
            loop = asyncio.get_running_loop()
            loop.call_later(max(0.0, fault.activated_at - time.time()), os._exit, fault.params.exit_code)
            return 202, {"replica": replica, "fault": fault.describe(), "activated_at": fault.activated_at}
        self.faults.add(fault)
        log.warning("fault_injected", kind=fault.kind, params=fault.describe()["params"])
        self.report_fault("fault_injected", fault, fault.activated_at)
        return 201, {"replica": replica, "fault": fault.describe(), "activated_at": fault.activated_at}

    def clear_faults(self, kind: str | None) -> dict[str, Any]:
        cleared = self.faults.remove(kind)
        now = time.time()
        for fault in cleared:
            self.log.warning("fault_cleared", kind=fault.kind)
            self.report_fault("fault_cleared", fault, now)
        return {"replica": self.replica, "cleared": [f.describe() for f in cleared], "cleared_at": now}

    async def post_fault(self, request: web.Request) -> web.Response:
        require_token(request)
        status, answer = await self.inject_fault(await read_json(request))
        return json_response(answer, status=status)

    async def delete_faults(self, request: web.Request) -> web.Response:
        require_token(request)
        unknown = set(request.query) - {"kind"}
        if unknown or len(request.query.getall("kind", [])) > 1:
            raise ApiError(400, "the only query parameter is one `kind`")
        kind = request.query.get("kind")
        if kind is not None and kind not in replica_kinds():
            raise ApiError(400, f"unknown fault kind {kind[:32]!r}; known: {', '.join(replica_kinds())}")
        return json_response(self.clear_faults(kind))

    async def list_faults(self, request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"replica": self.replica, "faults": self.faults.describe()})

    async def inject_failure(self, request: web.Request) -> web.Response:
        return await guide_api.inject_failure(request, self.replica, self.faults, self.inject_fault,
                                              self.clear_faults)
