"""`faultlab system check` on small stand-in systems (one in-process HTTP server playing orders, three replicas, a
monitor and a voter, each with a student's quirks): what it finds, what it misses and the setting to change — in both
languages — and the abilities that follow. Nothing is injected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.core.client import LabClient
from faultlab.core.config import Settings
from faultlab.lab.systems.check import SystemCheck
from faultlab.lab.systems.contract import guide_contract

STOCK = [{"product_id": p, "available_quantity": 100, "reserved_quantity": 0} for p in ("PROD-001", "PROD-002",
                                                                                          "PROD-003")]


def student_system(quirks: set[str], injected: list[Any]) -> web.Application:
    """The guide's system the way a student writes it; each quirk changes one answer."""
    app = web.Application()

    async def health(_r: web.Request) -> web.Response:
        return web.json_response({"status": "healthy"})

    async def inventory(_r: web.Request) -> web.Response:
        return web.json_response({"data": {"inventory": STOCK}} if "nested" in quirks else {"inventory": STOCK})

    async def inject(request: web.Request) -> web.Response:
        injected.append(await request.read())
        if "no-inject" in quirks:
            raise web.HTTPNotFound()
        if "token" in quirks or ("header-token" in quirks and "Authorization" not in request.headers):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"error": "type required"}, status=400)

    async def status(_r: web.Request) -> web.Response:
        if "no-status" in quirks:
            raise web.HTTPNotFound()
        word = "UP" if "up-words" in quirks else "ON"
        listed = (1,) if "rows-of-1" in quirks else (1, 2) if "rows-of-1-2" in quirks else (1, 2, 3)
        rows = [{"service_name": "inventory-svc", "instance_id": f"inventory-svc-{n}-1", "status": word}
                for n in listed]
        return web.json_response({"instances": rows})

    async def voted(_r: web.Request) -> web.Response:
        return web.json_response({"inventory": STOCK, "quorum": True})

    async def order(_r: web.Request) -> web.Response:
        return web.json_response({"id": "o-1"} if "order-id" in quirks else {"order_id": "o-1"}, status=201)

    async def one_order(_r: web.Request) -> web.Response:
        return web.json_response({"order_id": "o-1", "status": "PENDING"})

    async def cancel(_r: web.Request) -> web.Response:
        return web.json_response({"cancelled": True})

    for n in (1, 2, 3):
        app.router.add_get(f"/r{n}/health", health)
        app.router.add_get(f"/r{n}/inventory", inventory)
        app.router.add_post(f"/r{n}/inject-failure", inject)
    app.router.add_get("/m/status", status)
    app.router.add_get("/v/inventory/voted", voted)
    app.router.add_get("/v/voting/stats", health)
    app.router.add_get("/o/health", health)
    app.router.add_post("/o/orders", order)
    app.router.add_get("/o/orders/{id}", one_order)
    app.router.add_delete("/o/orders/{id}", cancel)
    return app


Check = Callable[..., Any]


@pytest_asyncio.fixture(loop_scope="function")
async def check() -> AsyncIterator[Check]:
    servers: list[TestServer] = []
    clients: list[LabClient] = []
    sessions: list[aiohttp.ClientSession] = []

    async def run(quirks: set[str], write: bool = True, **overrides: Any) -> tuple[Any, list[str], list[Any]]:
        injected: list[Any] = []
        server = TestServer(student_system(quirks, injected))
        await server.start_server()
        servers.append(server)
        base = f"http://127.0.0.1:{server.port}"
        contract = guide_contract(**{
            "orders": {"url": f"{base}/o"}, "monitor": {"url": f"{base}/m"}, "voter": {"url": f"{base}/v"},
            "replicas": {"urls": [f"{base}/r{n}" for n in (1, 2, 3)],
                         "restart_command": "docker compose restart inventory-svc-{n}"}, **overrides})
        session = aiohttp.ClientSession(headers=contract.headers)  # as GuideSystem sends them: on its session
        sessions.append(session)
        client = await LabClient(Settings(), timeout_s=2, session=session).start()
        clients.append(client)
        result = await SystemCheck(contract, client).run(write=write)
        return result, [f.text() for f in result.findings], injected

    yield run
    for client in clients:
        await client.stop()
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


async def test_a_system_built_to_the_guide_passes_and_nothing_is_injected(check: Check) -> None:
    """Every endpoint found; the monitor's compose ids map to replicas; the fault endpoint is asked with an empty
    body only; a test order is placed, read and cancelled; the abilities follow."""
    result, said, injected = await check(set())
    assert result.ok, said
    assert result.monitor and result.order_status and result.cancels and result.inject and not result.positions
    assert result.instance_ids == {1: "inventory-svc-1-1", 2: "inventory-svc-2-1", 3: "inventory-svc-3-1"}
    assert injected == [b"{}", b"{}", b"{}"]
    assert any("answered HTTP 400 (type required) to an empty body: the fault endpoint is there" in s for s in said)
    assert any("a test order of 1 unit accepted (id o-1)" in s for s in said)
    assert "no stop command: two-down is skipped — set system.replicas.stop_command" in said
    assert result.stock == {"PROD-001": 100, "PROD-002": 100, "PROD-003": 100}


async def test_each_thing_missing_names_the_setting_to_change(check: Check) -> None:
    """A monitor without /status, words that are not ON / OFF, a fault endpoint wanting credentials, products one
    level deeper, the order's id under another name."""
    result, said, _ = await check({"no-status", "nested", "token", "order-id"})
    assert not result.ok  # the replicas' products cannot be read
    assert any(s.startswith("monitor GET") and s.endswith("answered HTTP 404 — set "
                                                          "system.monitor.status_path") for s in said), said
    assert any(s.endswith("no products (HTTP 200) — set system.replicas.items_path: 'data.inventory'")
               for s in said), said
    assert any("it wants credentials — set system.headers" in s for s in said)
    assert any("its id is not at 'order_id': no cancels — set system.orders.order_id_path: 'id'" in s
               for s in said), said
    result, said, _ = await check({"up-words", "no-inject"})
    assert result.ok and result.monitor and not result.inject
    assert any("neither ON nor OFF: 1: 'UP', 2: 'UP', 3: 'UP' — set system.monitor.on_words" in s for s in said)
    assert any("no fault endpoint — set system.replicas.inject_path (or inject: proxy)" in s for s in said)


async def test_an_unusable_system_and_the_spanish_sentences(check: Check) -> None:
    """Products the voter does not have make it unusable; every sentence is said in Spanish too; read-only sends
    no order."""
    result, _said, _ = await check(set(), write=False, products=["PROD-001", "PROD-XYZ"])
    assert not result.ok
    spanish = [f.text("es") for f in result.findings]
    assert any("PROD-XYZ" in s and "ajuste system.products" in s for s in spanish), spanish
    assert any("no se envió ninguna orden de prueba" in s for s in spanish), spanish
    assert not result.cancels


async def test_replicas_missing_from_the_monitor_are_counted_in_both_languages(check: Check) -> None:
    """A monitor without a row for one replica says "replica 3" ("la réplica 3"), without rows for two "replicas 2, 3"
    ("las réplicas 2, 3"), never "replica(s)"; report.json keeps both forms of the sentence and the count."""
    one, _said, _ = await check({"rows-of-1-2"})
    two, _said, _ = await check({"rows-of-1"})
    [missing_one] = [f for f in one.findings if "no row" in f.text()]
    [missing_two] = [f for f in two.findings if "no row" in f.text()]
    assert " no row for replica 3 (instance ids seen: inventory-svc-1-1, inventory-svc-2-1)" in missing_one.text()
    assert " no row for replicas 2, 3 (instance ids seen: inventory-svc-1-1)" in missing_two.text()
    assert " ninguna fila para la réplica 3 (ids de instancia vistos: " in missing_one.text("es")
    assert " ninguna fila para las réplicas 2, 3 (ids de instancia vistos: " in missing_two.text("es")
    assert not any("(s)" in f.text() or "(s)" in f.text("es") for f in (missing_one, missing_two))
    recorded = missing_two.describe()
    assert recorded["msgid"].endswith("no row for replica {missing} (instance ids seen: {seen})")
    assert recorded["msgid_plural"].endswith("no row for replicas {missing} (instance ids seen: {seen})")
    assert recorded["counted"] == "count" and recorded["params"]["count"] == 2


def test_a_finding_says_where_to_look() -> None:
    """describe() keeps the English sentence, the setting and whether the system can be used without it."""
    from faultlab.lab.systems.check import Finding

    finding = Finding("monitor", False, "monitor GET {url} answered {said}", {"url": "u", "said": "HTTP 404"},
                      "system.monitor.status_path")
    assert finding.describe() == {"area": "monitor", "ok": False, "fatal": False,
                                  "setting": "system.monitor.status_path",
                                  "message": "monitor GET u answered HTTP 404 — set system.monitor.status_path",
                                  "msgid": "monitor GET {url} answered {said}", "params": {"url": "u", "said": "HTTP 404"}}


async def test_a_fault_endpoint_open_to_anyone_is_named(check: Check) -> None:
    """An endpoint that takes a request without credentials is a finding (not a reason to refuse the system); with
    the contract's headers, it is asked once more without them, and one that then wants credentials is not named."""
    result, said, _ = await check(set())
    assert result.ok and result.inject
    assert sum("answered HTTP 400 to a request without credentials: anyone who can reach it can inject a fault" in s
               for s in said) == 3, said
    assert all(not f.ok and not f.fatal for f in result.findings if "without credentials" in f.message)
    result, said, injected = await check({"header-token"}, headers={"Authorization": "Bearer s3cret"})
    assert result.ok and result.inject and len(injected) == 6  # with the header, then without it
    assert not any("without credentials" in s for s in said), said
    result, said, _ = await check(set(), headers={"Authorization": "Bearer s3cret"})
    assert sum("without credentials" in s for s in said) == 3, said


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_command_line_help_is_translated(lang: str) -> None:
    """`faultlab system check --help` in both languages."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "faultlab", "--lang", lang, "system", "check", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert ("Probes a running system" in out) == (lang == "en")
