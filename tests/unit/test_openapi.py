"""The OpenAPI documents: valid OpenAPI 3.1, every registered route documented, limits equal to the code's."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.core.messages import components, schema_of
from faultlab.core.messages import monitor as monitor_messages
from faultlab.core.messages.orders import NewOrder
from faultlab.core.web import MAX_BODY_BYTES, MAX_EVENT_ID
from faultlab.faults import NAME_FIELDS, FaultError, FaultSet, parse_fault, replica_kinds
from faultlab.faults.proxy import PROXY_KINDS
from faultlab.faults.registry import NETWORK, of_site
from faultlab.lab.systems.proxy import FaultProxy
from faultlab.lab.systems.proxy.control import ControlApi
from faultlab.openapi import PRODUCT_ID_PATTERN
from faultlab.openapi import inventory as inventory_doc
from faultlab.openapi import monitor as monitor_doc
from faultlab.openapi import observer as observer_doc
from faultlab.openapi import orders as orders_doc
from faultlab.openapi import proxy as proxy_doc
from faultlab.openapi import supervisor as supervisor_doc
from faultlab.openapi import voter as voter_doc
from faultlab.runtime.supervisor import Supervisor
from faultlab.shop.inventory.api import InventoryApi
from faultlab.shop.monitor.api import MonitorApi
from faultlab.shop.orders import api as orders_api
from faultlab.shop.orders.api import OrdersApi
from faultlab.shop.voter.api import VoterApi

METHODS = {"get", "post", "put", "delete", "patch"}
PROXY_URL = "http://127.0.0.1:6010"


class _Named:
    """Stands in for a service object whose only use while routes are registered is its logger."""

    def __init__(self) -> None:
        from faultlab.core.log import get_logger

        self.log = get_logger("test")


def _settings(tmp_path: Path) -> Settings:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return Settings(home=tmp_path, supervisor_port=port, admin_token="t" * 32)


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, HEAD (added by aiohttp for each GET) left out."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        found.add((route.method.lower(), route.resource.canonical))  # type: ignore[union-attr]
    return found


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in doc["paths"].items() for method in item if method in METHODS}


async def _apps(tmp_path: Path) -> dict[str, tuple[web.Application, dict[str, Any]]]:
    """Each service's real app (built with stand-ins for what only handlers use) and its document."""
    s = _settings(tmp_path)
    apps: dict[str, tuple[web.Application, dict[str, Any]]] = {
        "orders": (OrdersApi(s, None, None, None, get_logger("test")).build(),  # type: ignore[arg-type]
                   orders_doc.openapi_document(s)),
        "inventory": (InventoryApi(s, 2, None, FaultSet(), None, get_logger("test")).build(),  # type: ignore[arg-type]
                      inventory_doc.openapi_document(s, 2)),
        "voter": (VoterApi(s, _Named()).build(), voter_doc.openapi_document(s)),  # type: ignore[arg-type]
        "monitor": (MonitorApi(s, _Named()).build(), monitor_doc.openapi_document(s)),  # type: ignore[arg-type]
        "observer": (_observer_api().build(), observer_doc.openapi_document("http://127.0.0.1:0")),
        "proxy": (ControlApi(FaultProxy({1: "http://127.0.0.1:5001"}), s, get_logger("test")).build(PROXY_URL),
                  proxy_doc.openapi_document(PROXY_URL)),
    }
    return apps


def _observer_api() -> Any:
    """The observer's API over an observer of one replica (never started: only its routes are read)."""
    from faultlab.lab.observer import Observer, Target
    from faultlab.lab.observer_api import ObserverApi

    observer = Observer([Target(1, "http://127.0.0.1:9/health", "http://127.0.0.1:9/inventory")], lambda _d: {},
                        None, lambda _d: {})
    return ObserverApi(observer)


async def _supervisor_app(tmp_path: Path) -> tuple[Supervisor, web.Application]:
    supervisor = Supervisor(_settings(tmp_path))
    await supervisor.api.start("127.0.0.1", supervisor.settings.supervisor_port)
    assert supervisor.api._runner is not None
    return supervisor, supervisor.api._runner.app


def _schemas(node: Any) -> list[dict[str, Any]]:
    """Every `schema` object inside a document."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                found.append(value)
            found.extend(_schemas(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_schemas(value))
    return found


async def test_every_registered_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    """The router's (method, path) pairs equal the document's operations, for every service and the supervisor."""
    apps = await _apps(tmp_path)
    lab, supervisor = await _supervisor_app(tmp_path / "lab")
    try:
        apps["supervisor"] = (supervisor, supervisor_doc.openapi_document(lab.settings))
        for name, (app, doc) in apps.items():
            routes = _routes(app)
            assert ("get", "/openapi.json") in routes, name
            assert routes == _documented(doc), f"{name}: undocumented {routes - _documented(doc)}, " \
                                               f"documented but missing {_documented(doc) - routes}"
    finally:
        await lab.api.stop()


async def test_documents_are_valid_openapi_with_valid_json_schemas(tmp_path: Path) -> None:
    """Each document passes the OpenAPI 3.1 meta-schema and each schema in it is valid JSON Schema 2020-12."""
    s = _settings(tmp_path)
    docs = [orders_doc.openapi_document(s), inventory_doc.openapi_document(s, 1), voter_doc.openapi_document(s),
            monitor_doc.openapi_document(s), supervisor_doc.openapi_document(s), proxy_doc.openapi_document(PROXY_URL),
            observer_doc.openapi_document("http://127.0.0.1:5009")]
    for doc in docs:
        schemathesis.openapi.from_dict(doc).validate()
        for schema in [*_schemas(doc), *doc["components"]["schemas"].values()]:
            jsonschema.Draft202012Validator.check_schema(schema)
        for path, item in doc["paths"].items():
            for method, op in item.items():
                assert op.get("summary"), f"{method} {path} has no summary"
                for status, response in op["responses"].items():
                    if int(status) >= 400:
                        assert response["content"]["application/json"]["schema"], f"{method} {path} {status}"


async def test_operator_security_is_declared_where_the_service_requires_the_token(tmp_path: Path) -> None:
    """Fault, report, process-control and restock operations carry the bearer scheme; reads and orders do not."""
    s = _settings(tmp_path)
    secured = {
        "inventory": {("get", "/faults"), ("post", "/faults"), ("delete", "/faults"), ("post", "/inject-failure")},
        "monitor": {("post", "/reports"), ("post", "/trace"), ("get", "/trace"), ("delete", "/trace")},
        "supervisor": {("post", f"/processes/{{name}}/{a}") for a in ("restart", "kill", "stop", "start")}
        | {("post", "/shutdown"), ("post", "/reset"), ("post", "/netfaults"), ("delete", "/netfaults")},
        "orders": {("post", "/restocks")}, "voter": set(), "observer": set(),
        "proxy": {("get", "/replicas"), ("get", "/replicas/{replica}/faults"), ("post", "/replicas/{replica}/faults"),
                  ("delete", "/replicas/{replica}/faults"), ("post", "/reset")},
    }
    docs = {"orders": orders_doc.openapi_document(s), "inventory": inventory_doc.openapi_document(s, 1),
            "voter": voter_doc.openapi_document(s), "monitor": monitor_doc.openapi_document(s),
            "supervisor": supervisor_doc.openapi_document(s), "proxy": proxy_doc.openapi_document(PROXY_URL),
            "observer": observer_doc.openapi_document("http://127.0.0.1:5009")}
    for name, doc in docs.items():
        declared = {(m, p) for p, item in doc["paths"].items() for m, op in item.items() if op.get("security")}
        assert declared == secured[name], name
        for method, path in declared:
            assert "401" in doc["paths"][path][method]["responses"]
        if declared:
            assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def test_documented_limits_are_the_code_limits(tmp_path: Path) -> None:
    """Quantity range, product id pattern, statuses, fault kinds and ranges, list sizes: as the handlers check them."""
    s = _settings(tmp_path).model_copy(update={"max_quantity": 77})
    orders = orders_doc.openapi_document(s)
    body = _resolve(orders, orders["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["quantity"] == {"type": "integer", "minimum": 1, "maximum": 77,
                                              "description": "at most the lab's max_quantity", "title": "Quantity"}
    assert body["properties"]["product_id"]["pattern"] == orders_api.PRODUCT_ID.pattern == PRODUCT_ID_PATTERN
    assert body["additionalProperties"] is False and set(body["properties"]) == orders_api.ORDER_FIELDS
    assert list(orders_api.STATUSES) == orders_doc.STATUSES
    assert str(MAX_BODY_BYTES) in orders["paths"]["/orders"]["post"]["requestBody"]["description"]
    for path in ("/orders", "/restocks"):
        [key] = [p for p in orders["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header" and not key["required"]
        assert key["schema"]["pattern"] == orders_api.IDEMPOTENCY_KEY_PATTERN
        assert key["schema"]["maxLength"] == orders_api.IDEMPOTENCY_KEY_MAX
    assert re.fullmatch(orders_api.IDEMPOTENCY_KEY_PATTERN, "k" * orders_api.IDEMPOTENCY_KEY_MAX)
    for bad in ("", "k" * (orders_api.IDEMPOTENCY_KEY_MAX + 1), "two words", "tab\tkey", "clé"):
        assert not re.fullmatch(orders_api.IDEMPOTENCY_KEY_PATTERN, bad), bad

    variants = {v["title"]: v for v in inventory_doc.fault_request_schema()["oneOf"]}
    assert set(variants) == set(replica_kinds())
    for kind, variant in variants.items():  # each variant is its kind's model, named the guide's ways
        spec = replica_kinds()[kind]
        params = set(schema_of(spec.params)["properties"]) - {"kind"}
        assert set(variant["properties"]) == {*NAME_FIELDS, "instance", "instance_id", *params}
        assert variant["properties"]["kind"]["enum"] == [kind, *spec.aliases]
        for other_spec in replica_kinds().values():  # another kind's parameter is refused, as documented
            for name in set(schema_of(other_spec.params)["properties"]) - params - {"kind"}:
                with pytest.raises(FaultError, match="unknown field"):
                    parse_fault({"kind": kind, name: 1})
    assert variants["latency"]["properties"]["latency_ms"]["maximum"] == 60_000
    assert variants["intermittent"]["properties"]["probability"]["maximum"] == 1
    assert monitor_doc.MAX_OBSERVATIONS == monitor_messages.MAX_OBSERVATIONS
    assert re.fullmatch(PRODUCT_ID_PATTERN, "PROD-001") and not re.fullmatch(PRODUCT_ID_PATTERN, "prod-001")


def test_components_are_generated_from_the_message_models(tmp_path: Path) -> None:
    """Every document's message components are its models' JSON Schemas (lab limits added), not hand-written."""
    s = _settings(tmp_path)
    orders = orders_doc.openapi_document(s)["components"]["schemas"]
    generated = components([NewOrder])["NewOrder"]
    assert orders["NewOrder"]["properties"]["product_id"]["pattern"] == generated["properties"]["product_id"]["pattern"]
    assert orders["NewOrder"]["required"] == generated["required"] == ["product_id", "quantity"]
    monitor = monitor_doc.openapi_document(s)["components"]["schemas"]
    assert monitor["Observation"]["properties"]["replica"]["enum"] == s.replica_ids
    assert "ObservationReport" in monitor and "GuideEpisode" in monitor
    inventory = inventory_doc.openapi_document(s, 1)["components"]["schemas"]
    for spec in replica_kinds().values():
        assert inventory[spec.params.__name__]["properties"] == schema_of(spec.params)["properties"]
    supervisor = supervisor_doc.openapi_document(s)
    body = supervisor["paths"]["/netfaults"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [v["title"] for v in body["oneOf"]] == list(of_site(NETWORK))
    assert {"Process", "ResetRequest", "ResetAnswer"} <= set(supervisor["components"]["schemas"])
    proxy = proxy_doc.openapi_document(PROXY_URL)
    for spec in PROXY_KINDS.values():
        assert proxy["components"]["schemas"][spec.params.__name__]["properties"] == \
            schema_of(spec.params)["properties"]
    body = proxy["paths"]["/replicas/{replica}/faults"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [v["title"] for v in body["oneOf"]] == list(PROXY_KINDS)
    clear = proxy["paths"]["/replicas/{replica}/faults"]["delete"]["parameters"][1]
    assert clear["schema"]["enum"] == list(PROXY_KINDS)


@pytest.mark.parametrize("service", ["orders", "inventory", "voter", "monitor", "proxy"])
async def test_each_service_serves_its_document(tmp_path: Path, service: str) -> None:
    """`GET /openapi.json` answers the very document the module builds, as JSON."""
    app, doc = (await _apps(tmp_path))[service]
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/openapi.json")
        assert resp.status == 200 and resp.content_type == "application/json"
        assert await resp.json() == doc
        missing = await client.get("/no-such-path")
        assert missing.status == 404 and "error" in await missing.json()


@pytest.mark.parametrize("service", ["monitor", "observer"])
async def test_events_refuses_a_since_that_is_not_a_documented_event_id(tmp_path: Path, service: str) -> None:
    """`GET /events` on the shop's monitor and on the observer: a `since` (or `Last-Event-ID`) that is not an integer,
    or is outside 0 to the documented maximum, is a 400 naming the range, in the same words on both."""
    if service == "monitor":
        app, doc = MonitorApi(_settings(tmp_path), _Named()).build(), monitor_doc.openapi_document(_settings(tmp_path))
    else:
        app, doc = _observer_api().build(), observer_doc.openapi_document("http://127.0.0.1:0")
    [since] = [p for p in doc["paths"]["/events"]["get"]["parameters"] if p["name"] == "since"]
    assert since["schema"]["minimum"] == 0 and since["schema"]["maximum"] == MAX_EVENT_ID == 2**63 - 1
    not_integer = "since must be an integer event id"
    out_of_range = f"since must be an event id between 0 and {2**63 - 1}"
    async with TestClient(TestServer(app)) as client:
        for query, headers, error in [("since=abc", {}, not_integer), ("since=1.5", {}, not_integer),
                                      ("", {"Last-Event-ID": "x"}, not_integer), ("since=-1", {}, out_of_range),
                                      (f"since={2**63}", {}, out_of_range),
                                      ("", {"Last-Event-ID": "-3"}, out_of_range)]:
            resp = await client.get(f"/events?{query}", headers=headers)
            assert (resp.status, await resp.json()) == (400, {"error": error}), (query, headers)
        if service == "observer":  # an id in range is taken, from the query or the header
            for query, headers in [(f"since={2**63 - 1}", {}), ("", {"Last-Event-ID": "3"})]:
                resp = await client.get(f"/events?{query}", headers=headers)
                assert resp.status == 200 and (await resp.json())["events"] == [], (query, headers)
