"""Inventory replica HTTP API (ports 5001-5003): stock reads, health, and the operator's fault endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.db import lab_epoch
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.guide import health_body
from faultlab.core.log import get_logger
from faultlab.core.messages.inventory import AppliedRequest
from faultlab.core.metrics_store import flushing
from faultlab.core.protocol import HISTORY_LEN
from faultlab.core.web import ApiError, Handler, create_app, json_response, read_json, read_model, require_token, serve
from faultlab.faults import FaultError, FaultSet, exits_process, parse_fault, replica_kinds
from faultlab.faults.base import Fault
from faultlab.openapi.inventory import openapi_document as inventory_openapi
from faultlab.shop.inventory import guide_api
from faultlab.shop.inventory.replica import LogApplier
from faultlab.shop.inventory.store import ReplicaStore

FAULTED_PREFIXES = ("/health", "/inventory")
CRASH_DELAY_S = 0.02  # time to answer the operator before the process exits
PRODUCT_MAX_LEN = 32


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def build_app(settings: Settings, replica: int, applier: LogApplier, faults: FaultSet,
              reporter: MonitorReporter) -> web.Application:
    log = get_logger("inventory", replica)
    app = create_app(settings, "inventory", log, openapi=lambda: inventory_openapi(settings, replica))
    started_at = time.time()

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if faults.active and request.path.startswith(FAULTED_PREFIXES):
            for fault in faults.request_hooks():
                answer = await fault.on_request(request)
                if answer is not None:
                    applier.publish_error("served_error", f"{fault.kind} fault answered {answer.status}")
                    return answer
        return await handler(request)

    app.middlewares.append(inject)

    def product_item(product_id: str, history: int) -> dict[str, Any]:
        view = applier.view
        product = view.products[product_id]
        item: dict[str, Any] = {
            "product_id": product_id,
            "available_quantity": product.available,
            "reserved_quantity": product.reserved,
            "instance_id": str(replica),  # the guide's INSTANCE_ID
            "replica": replica,
            "timestamp": _iso(time.time()),
            "position": product.version,
            "applied_seq": view.applied_seq,
        }
        if history:
            recent = product.history
            item["history"] = [list(h) for h in (list(recent)[-history:] if history < len(recent) else recent)]
        return faults.rewrite(item)

    def wants_history(request: web.Request) -> int:
        """How many recent versions to include: ?history=N (1 = all kept), 0 or absent = none."""
        value = request.query.get("history", "0")
        if not (value.isascii() and value.isdigit()) or len(value) > 4:  # "²".isdigit() but int("²") fails
            raise ApiError(400, f"history must be a count of versions, 0 to {HISTORY_LEN}")
        count = int(value)
        return HISTORY_LEN if count == 1 else min(count, HISTORY_LEN)

    async def inventory(request: web.Request) -> web.Response:
        history = wants_history(request)
        view = applier.view
        items = [product_item(pid, history) for pid in sorted(view.products)]
        return json_response({"instance_id": str(replica), "replica": replica,
                              "applied_seq": view.applied_seq, "inventory": items})

    async def one_product(request: web.Request) -> web.Response:
        product_id = request.match_info["product_id"]
        history = wants_history(request)
        if len(product_id) > PRODUCT_MAX_LEN or product_id not in applier.view.products:
            raise ApiError(404, f"unknown product {product_id[:PRODUCT_MAX_LEN]!r}")
        return json_response(product_item(product_id, history))

    async def applied(request: web.Request) -> web.Response:
        """What this replica applied for some orders (the orders service's reconciler asks)."""
        asked = await read_model(request, AppliedRequest)
        parsed = [uuid.UUID(i) for i in asked.order_ids]
        rows = await applier.store.applied_for(parsed)
        return json_response({"replica": replica, "applied": rows})

    async def health(_request: web.Request) -> web.Response:
        status = applier.status()
        return json_response(health_body(
            "inventory", applier.assigned, replica, pid=os.getpid(), started_at=started_at, **status,
            faults=[f["kind"] for f in faults.describe()], **guide_api.failure_fields(faults)))

    def report_fault(kind: str, fault: Fault, at: float) -> None:
        reporter.report(observation(replica, kind, ok=kind == "fault_cleared", source="replica", at=at,
                                    fault=fault.describe()), urgent=True)

    async def inject_fault(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Activate the fault a body describes: (201, or 202 for a crash that exits in CRASH_DELAY_S; answer)."""
        try:
            fault = parse_fault(body)
        except FaultError as exc:
            raise ApiError(400, str(exc)) from None
        if exits_process(fault):
            # Announce the exact moment of the exit, then exit at that moment: the acknowledgement is the
            # activation time, and it can never come after the evidence of the crash.
            fault.activated_at = time.time() + CRASH_DELAY_S
            log.warning("fault_injected", kind=fault.kind, params=fault.describe()["params"])
            await reporter.send_now(observation(replica, "fault_injected", ok=False, source="replica",
                                                at=fault.activated_at, fault=fault.describe()))
            loop = asyncio.get_running_loop()
            loop.call_later(max(0.0, fault.activated_at - time.time()), os._exit, fault.params.exit_code)
            return 202, {"replica": replica, "fault": fault.describe(), "activated_at": fault.activated_at}
        faults.add(fault)
        log.warning("fault_injected", kind=fault.kind, params=fault.describe()["params"])
        report_fault("fault_injected", fault, fault.activated_at)
        return 201, {"replica": replica, "fault": fault.describe(), "activated_at": fault.activated_at}

    async def post_fault(request: web.Request) -> web.Response:
        require_token(request)
        status, answer = await inject_fault(await read_json(request))
        return json_response(answer, status=status)

    def clear_faults(kind: str | None) -> dict[str, Any]:
        cleared = faults.remove(kind)
        now = time.time()
        for fault in cleared:
            log.warning("fault_cleared", kind=fault.kind)
            report_fault("fault_cleared", fault, now)
        return {"replica": replica, "cleared": [f.describe() for f in cleared], "cleared_at": now}

    async def delete_faults(request: web.Request) -> web.Response:
        require_token(request)
        unknown = set(request.query) - {"kind"}
        if unknown or len(request.query.getall("kind", [])) > 1:
            raise ApiError(400, "the only query parameter is one `kind`")
        kind = request.query.get("kind")
        if kind is not None and kind not in replica_kinds():
            raise ApiError(400, f"unknown fault kind {kind[:32]!r}; known: {', '.join(replica_kinds())}")
        return json_response(clear_faults(kind))

    async def list_faults(request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"replica": replica, "faults": faults.describe()})

    app.router.add_get("/health", health)
    app.router.add_post("/applied", applied)
    app.router.add_get("/inventory", inventory)
    app.router.add_get("/inventory/{product_id}", one_product)
    app.router.add_post("/faults", post_fault)
    app.router.add_delete("/faults", delete_faults)
    app.router.add_get("/faults", list_faults)
    guide_api.register(app, replica, faults, inject_fault, clear_faults)
    return app


async def main(settings: Settings, replica: int) -> None:
    log = get_logger("inventory", replica)
    faults = FaultSet()
    reporter = MonitorReporter(settings)
    await reporter.start()
    store = ReplicaStore(settings, replica)
    await store.open()
    epoch = await lab_epoch(store.pool)  # read now, when the process starts working (a warm spare: when let go)
    applier = LogApplier(settings, replica, store, faults, log, epoch, reporter)
    await applier.start()  # the state, the commit connection and the broker connections side by side
    pool = store.pool
    if os.getpriority(os.PRIO_PROCESS, 0) > 0:  # started niced after a crash: full priority once working
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    app = build_app(settings, replica, applier, faults, reporter)

    def listening() -> None:
        # The monitor checks a new process at once, instead of at its next probe of a replica it knows is down.
        reporter.report(observation(replica, "process_start", True, "replica", pid=os.getpid()), urgent=True)

    try:
        async with flushing(pool, app, f"inventory-svc-{replica}", log):
            await serve(app, settings.host, settings.replica_port(replica), log, listening)
    finally:
        faults.remove()
        await applier.stop()
        await reporter.stop()
        await store.close()
