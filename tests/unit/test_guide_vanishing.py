"""A guide system that disappears, hangs or answers garbage in the middle of a run (a small stand-in built to the
guide's contract, broken while a fault is held): the observer notices, the run stops, the rollback clears what was
injected (or says what it could not), and the partial report says why."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.core.config import Settings
from faultlab.core.said import text_of
from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.phases import build_experiment
from faultlab.lab.report import build_report, validate
from faultlab.lab.systems.contract import guide_contract
from faultlab.lab.systems.guide import GuideSystem

pytestmark = pytest.mark.timeout(120)


class StandIn:
    """Three replicas, a monitor (OFF 100 ms after a fault), a voter and orders, in one app, as plainly as the guide
    describes them."""

    def __init__(self) -> None:
        self.stock = {p: [1000, 0] for p in ("PROD-001", "PROD-002", "PROD-003")}
        self.faults: dict[int, tuple[str, float] | None] = {1: None, 2: None, 3: None}
        self.orders: dict[str, tuple[str, int, str]] = {}
        self.injections: list[tuple[int, Any]] = []
        self.broken: str | None = None  # "garbage": every read answers 200 with an HTML page; "hang": never answers

    @web.middleware
    async def breaker(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Reads break as told; the fault endpoint keeps working (so the rollback can clear what it injected)."""
        if self.broken is None or request.method != "GET":
            return await handler(request)
        if self.broken == "hang":
            await asyncio.sleep(3600)
        return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")

    def items(self) -> list[dict[str, Any]]:
        return [{"product_id": p, "available_quantity": a, "reserved_quantity": r} for p, (a, r) in self.stock.items()]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.breaker])
        for n in (1, 2, 3):
            app.router.add_get(f"/r{n}/health", self.health(n))
            app.router.add_get(f"/r{n}/inventory", self.inventory)
            app.router.add_post(f"/r{n}/inject-failure", self.inject(n))
        app.router.add_get("/m/status", self.status)
        app.router.add_get("/v/inventory/voted", self.inventory)
        app.router.add_get("/o/health", self.ok)
        app.router.add_post("/o/orders", self.order)
        app.router.add_get("/o/orders/{id}", self.one)
        app.router.add_delete("/o/orders/{id}", self.cancel)
        return app

    async def ok(self, _r: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    def health(self, n: int) -> Any:
        async def handler(_r: web.Request) -> web.Response:
            return web.json_response({"status": "UP" if self.faults[n] is None else "DOWN"},
                                     status=200 if self.faults[n] is None else 500)
        return handler

    async def inventory(self, _r: web.Request) -> web.Response:
        return web.json_response({"inventory": self.items()})

    def inject(self, n: int) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = await request.json()
            self.injections.append((n, body))
            kind = body.get("type")
            if kind not in ("latency", "intermittent", "incorrect_response", "clear"):
                return web.json_response({"error": "type required"}, status=400)
            self.faults[n] = None if kind == "clear" else (kind, time.time())
            return web.json_response({"failure_injected": kind != "clear", "failure_type": kind})
        return handler

    async def status(self, _r: web.Request) -> web.Response:
        now = time.time()
        rows = [{"service_name": "inventory-svc", "instance_id": f"inventory-svc-{n}", "status":
                 "OFF" if f is not None and now - f[1] > 0.1 else "ON"} for n, f in self.faults.items()]
        return web.json_response({"instances": rows})

    async def order(self, request: web.Request) -> web.Response:
        body = await request.json()
        product, quantity = body["product_id"], int(body["quantity"])
        self.stock[product][0] -= quantity
        self.stock[product][1] += quantity
        order_id = f"o-{len(self.orders) + 1}"
        self.orders[order_id] = (product, quantity, "CONFIRMED")
        return web.json_response({"order_id": order_id, "status": "CONFIRMED"}, status=201)

    async def one(self, request: web.Request) -> web.Response:
        found = self.orders.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": "Order not found"}, status=404)
        return web.json_response({"order_id": request.match_info["id"], "status": found[2]})

    async def cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["id"]
        product, quantity, status = self.orders[order_id]
        if status != "CANCELLED":
            self.stock[product][0] += quantity
            self.stock[product][1] -= quantity
            self.orders[order_id] = (product, quantity, "CANCELLED")
        return web.json_response({"order_id": order_id, "status": "CANCELLED"})


async def test_a_system_that_vanishes_mid_run_ends_in_the_rollback_and_a_partial_report() -> None:
    """The stand-in is stopped while replica 2's latency fault is held: the observer gives up on it after 1 s of
    silence, the run aborts with that reason, the rollback's clear of replica 2 fails and is said, the report of the
    phases so far is written and valid (no lab: a stand-in in this process)."""
    standin = StandIn()
    server = TestServer(standin.app())
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    contract = guide_contract(name="stand-in", orders={"url": f"{base}/o"}, monitor={"url": f"{base}/m"},
                              voter={"url": f"{base}/v", "stats_path": None},
                              replicas={"urls": [f"{base}/r{n}" for n in (1, 2, 3)]})
    system = GuideSystem(contract, lost_after_s=1.0)
    experiment = build_experiment(phases=["baseline", "latency"], repeat=1, rate=20, duration_s=30, settle_s=0.3)
    experiment = experiment.model_copy(update={"phases": [experiment.phases[0].model_copy(update={"hold_s": 1.0}),
                                                          experiment.phases[1]]})
    steps: list[str] = []
    task = asyncio.create_task(ExperimentRunner(Settings(), experiment, on_step=steps.append, system=system).run())
    try:
        async with asyncio.timeout(60):
            while not any("fault held" in s for s in steps):
                await asyncio.sleep(0.05)
        assert standin.faults[2] is not None and standin.faults[2][0] == "latency"
    finally:
        await server.close()  # the system disappears
    data = await asyncio.wait_for(task, 60)
    assert text_of(data["aborted"]).startswith("the system under test stopped answering: neither its monitor nor any replica")
    assert any("replica 2: faults not cleared" in p for p in data["rollback_problems"]), data["rollback_problems"]
    assert [r.phase for r in data["results"]] == ["baseline", "latency"]
    assert data["results"][0].passed and text_of(data["results"][1].missed[0]).startswith(
        "error: the system under test stopped answering")
    assert data["system"]["observer"]["lost"] and "data_check" not in data
    report = build_report(data, {"system": "stand-in"}, "vanished")
    validate(report)
    assert text_of(report.verdict.missed[0]).startswith("aborted: the system under test stopped answering")
    assert [n for n, body in standin.injections if body.get("type") == "latency"] == [2]


@pytest.mark.parametrize("broken", ["garbage", "hang"])
async def test_a_system_that_answers_garbage_or_hangs_mid_run_is_stopped_and_its_faults_cleared(broken: str) -> None:
    """While replica 2's latency fault is held every read starts answering an HTML page (or nothing at all): after
    1 s the run stops with a reason that says which, the rollback clears replica 2's fault through its still working
    fault endpoint, and the partial report says why."""
    standin = StandIn()
    server = TestServer(standin.app())
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    contract = guide_contract(name="stand-in", orders={"url": f"{base}/o"}, monitor={"url": f"{base}/m"},
                              voter={"url": f"{base}/v", "stats_path": None}, timeout_s=0.5,
                              replicas={"urls": [f"{base}/r{n}" for n in (1, 2, 3)]})
    system = GuideSystem(contract, lost_after_s=1.0)
    experiment = build_experiment(phases=["baseline", "latency"], repeat=1, rate=20, duration_s=30, settle_s=0.3)
    experiment = experiment.model_copy(update={"phases": [experiment.phases[0].model_copy(update={"hold_s": 1.0}),
                                                          experiment.phases[1]]})
    steps: list[str] = []
    task = asyncio.create_task(ExperimentRunner(Settings(), experiment, on_step=steps.append, system=system).run())
    try:
        async with asyncio.timeout(60):
            while not any("fault held" in s for s in steps):
                await asyncio.sleep(0.05)
        standin.broken = broken
        data = await asyncio.wait_for(task, 60)
    finally:
        await server.close()
    why = ("it answers, but for" if broken == "garbage" else "neither its monitor nor any replica has answered")
    assert text_of(data["aborted"]).startswith(f"the system under test stopped answering: {why}"), data["aborted"]
    assert standin.faults == {1: None, 2: None, 3: None}  # the rollback cleared replica 2's latency
    sent = [(n, body.get("type")) for n, body in standin.injections if body.get("type")]  # not the check's probes
    assert sent == [(2, "latency"), (2, "clear")], sent
    assert not data["rollback_problems"], data["rollback_problems"]
    assert [r.phase for r in data["results"]] == ["baseline", "latency"]
    assert text_of(data["results"][1].missed[0]).startswith("error: the system under test stopped answering")
    report = build_report(data, {"system": "stand-in"}, broken)
    validate(report)
    assert text_of(report.verdict.missed[0]).startswith("aborted: the system under test stopped answering")
