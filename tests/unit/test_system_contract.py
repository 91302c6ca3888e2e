"""The guide's contract: the guide's defaults, overrides from a system file or an experiment's `system` section,
bad files refused with every place, and how a guide system's answers read (instance ids, status words, JSON paths,
body templates, products, headers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.core.messages import Refused, parse
from faultlab.core.messages.system import MonitorContract, ProductFields, SystemContract
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.experiment_reader import load_experiment
from faultlab.lab.phases import build_experiment
from faultlab.lab.systems.contract import (
    expand_headers,
    fill,
    find_path,
    guide_contract,
    load_system,
    monitor_states,
    pick,
    products_of,
    replica_of,
    status_word,
)
from faultlab.lab.systems.sizing import net_drain, size_load


def refused(path: Path, text: str) -> list[str]:
    path.write_text(text)
    with pytest.raises(Refused) as exc:
        load_system(path)
    return [p.text() for p in exc.value.problems]


def test_every_default_is_the_guides() -> None:
    """Ports 5006, 5001-5003, 5004, 5005; the guide's paths, body, kinds, words; no commands, no restocks."""
    c = guide_contract()
    assert c.kind == "guide" and c.inject == "api" and c.products == ["PROD-001", "PROD-002", "PROD-003"]
    assert c.orders.url == "http://localhost:5006" and c.orders.create_path == "/orders"
    assert (c.orders.cancel_method, c.orders.cancel_path, c.orders.status_path) == ("DELETE", "/orders/{id}",
                                                                                    "/orders/{id}")
    assert c.orders.order_body == {"product_id": "{product_id}", "quantity": "{quantity}"}
    assert c.orders.restock_path is None
    assert c.replicas.urls == ["http://localhost:5001", "http://localhost:5002", "http://localhost:5003"]
    assert c.replicas.inject_path == "/inject-failure" and c.replicas.inject_body == {"type": "{kind}"}
    assert c.replicas.kinds == {"crash": "crash", "latency": "latency", "intermittent": "intermittent",
                                "incorrect": "incorrect_response", "clear": "clear"}
    assert c.replicas.restart_command is None and c.replicas.stop_command is None
    assert (c.monitor.url, c.monitor.status_path, c.monitor.on_words, c.monitor.off_words) == (
        "http://localhost:5004", "/status", ["ON"], ["OFF"])
    assert (c.voter.url, c.voter.voted_path, c.voter.stats_path) == ("http://localhost:5005", "/inventory/voted",
                                                                     "/voting/stats")


def test_a_system_file_changes_only_what_it_says(tmp_path: Path) -> None:
    """Overrides from YAML; the rest stays the guide's; a command names its replica with {n}."""
    path = tmp_path / "mine.yaml"
    path.write_text("name: my shop\nmonitor: {status_path: /estado, on_words: [UP, ON]}\n"
                    "replicas: {restart_command: 'docker compose restart inventory-svc-{n}'}\n")
    c = load_system(path)
    assert c.name == "my shop" and c.monitor.status_path == "/estado" and c.monitor.on_words == ["UP", "ON"]
    assert c.monitor.url == "http://localhost:5004" and c.replicas.restart_command.endswith("{n}")


def test_a_bad_system_file_is_refused_with_every_place(tmp_path: Path) -> None:
    """Each problem at once, with its place: a path without its slash, an unknown field, a command without {n},
    a bad address, a word list left empty."""
    said = refused(tmp_path / "bad.yaml", "monitor: {status_path: status, colour: red, on_words: []}\n"
                                          "replicas: {urls: ['localhost:5001'], stop_command: 'docker stop x'}\n")
    assert any(s.startswith("monitor.status_path: must match") for s in said), said
    assert any(s.startswith("monitor.colour: unknown field") for s in said), said
    assert "monitor.on_words: must have at least 1 item" in said
    assert any(s.startswith("replicas.urls: not an http:// address") for s in said), said
    assert "replicas.stop_command: must name the replica with {n}" in said
    assert refused(tmp_path / "list.yaml", "- 1\n") == ["an experiment file is a mapping (phases:, load:, ...), "
                                                        "not a list"]


def test_an_experiment_names_its_system(tmp_path: Path) -> None:
    """`system: guide`, `system: shop`, a mapping (a guide system), or nothing (the shop); a bad section's places
    start at `system`; the shop takes no contract."""
    phases = [{"name": "baseline"}]
    assert parse(Experiment, {"phases": phases}).system is None
    assert parse(Experiment, {"system": "guide", "phases": phases}).system == guide_contract()
    assert parse(Experiment, {"system": "shop", "phases": phases}).system.kind == "shop"
    mapped = parse(Experiment, {"system": {"voter": {"url": "http://10.0.0.5:5005"}}, "phases": phases}).system
    assert mapped.kind == "guide" and mapped.voter.url == "http://10.0.0.5:5005"
    path = tmp_path / "exp.yaml"
    path.write_text("system: {monitor: {status_field: ''}, replicas: {kinds: {crash: crash}}}\nphases: [{name: b}]\n")
    with pytest.raises(Refused) as exc:
        load_experiment(path)
    said = [p.text() for p in exc.value.problems]
    assert any(s.endswith("system.replicas.kinds: must name clear (how every fault is cleared)") for s in said), said
    with pytest.raises(Refused) as exc:
        parse(Experiment, {"system": "mine", "phases": phases})
    assert [p.text() for p in exc.value.problems] == ["system: must be one of: shop or guide"]
    with pytest.raises(Refused) as exc:
        parse(Experiment, {"system": {"kind": "shop", "name": "x"}, "phases": phases})
    assert "the shop takes no contract" in str(exc.value)
    assert build_experiment(parse(Experiment, {"system": "shop", "phases": phases}), repeat=1).system.kind == "shop"
    path.write_text("system: guide\nphases: [{name: b}]\n")
    assert load_system(path) == guide_contract()


def test_an_embedded_experiment_keeps_no_secret_header() -> None:
    """report.json embeds the experiment: a header given by ${VAR} stays, a literal token is redacted."""
    experiment = parse(Experiment, {"system": {"headers": {"Authorization": "Bearer abc", "X-Token": "${T}",
                                                           "X-Trace": "yes"}}, "phases": [{"name": "b"}]})
    headers = experiment.as_run()["system"]["headers"]
    assert headers["X-Token"] == "${T}" and headers["X-Trace"] == "yes" and "abc" not in headers["Authorization"]


@pytest.mark.parametrize(("instance_id", "replica"), [
    ("1", 1), ("inventory-svc-1", 1), ("inventory-svc-1-1", 1), ("inventory-svc-3-1", 3), ("experimento-inventory"
                                                                                         "-svc-2-1", 2),
    (2, 2), ("inventory_svc_3", 3), ("4", None), ("inventory-svc", None), (True, None), ("0", None)])
def test_instance_ids_map_to_replicas(instance_id: object, replica: int | None) -> None:
    """"1", "inventory-svc-1" and compose's "inventory-svc-1-1" (service 1, container 1) are replica 1; a number
    outside the system's replicas, or none at all, is no replica."""
    assert replica_of(instance_id, MonitorContract(), 3) == replica


def test_an_explicit_instance_mapping_wins() -> None:
    """Ids that do not end in their number are mapped by the contract's `instances`."""
    monitor = MonitorContract(instances={"inventory-a": 1, "inventory-b": 2})
    assert replica_of("inventory-a", monitor, 3) == 1 and replica_of("inventory-b", monitor, 3) == 2


def test_status_words() -> None:
    """The contract's words, in any case; true / false; anything else is UNKNOWN."""
    monitor = MonitorContract(on_words=["ON", "UP"], off_words=["OFF", "DOWN"])
    assert [status_word(w, monitor) for w in ("ON", "up", " Off ", "DOWN", True, False, "UNKNOWN", None, 1)] == [
        "ON", "ON", "OFF", "OFF", "ON", "OFF", "UNKNOWN", "UNKNOWN", "UNKNOWN"]


def test_the_monitors_rows_read_as_replicas() -> None:
    """A list of rows (other services' rows left out), or a mapping keyed by instance id with bare words."""
    answer = {"instances": [{"service_name": "orders-svc", "instance_id": "orders-svc-1", "status": "ON"},
                            {"service_name": "inventory-svc", "instance_id": "inventory-svc-1-1", "status": "OFF"},
                            {"service_name": "inventory-svc", "instance_id": "2", "status": "ON"}]}
    states = monitor_states(answer, MonitorContract(), 3)
    assert {n: s["status"] for n, s in states.items()} == {1: "OFF", 2: "ON"}
    mapped = MonitorContract(rows_path="data", service_field=None)
    states = monitor_states({"data": {"inventory-1": "ON", "inventory-3": "DOWN"}}, mapped, 3)
    assert {n: (s["status"], s["word"]) for n, s in states.items()} == {1: ("ON", "ON"), 3: ("UNKNOWN", "DOWN")}


def test_json_paths_templates_and_suggestions() -> None:
    """pick reads a.b[0].c; fill keeps a lone field's type; find_path says where rows carrying a field are."""
    answer = {"data": {"orders": [{"id": 7}]}, "ok": True}
    assert pick(answer, "data.orders[0].id") == 7 and pick(answer, "data.x", "-") == "-"
    assert pick(answer, "") is answer and pick([1, 2], "[1]") == 2
    assert fill({"product_id": "{product_id}", "quantity": "{quantity}", "note": "{quantity} units",
                 "items": ["{product_id}"]}, {"product_id": "P", "quantity": 3}) == {
        "product_id": "P", "quantity": 3, "note": "3 units", "items": ["P"]}
    assert find_path({"data": {"inventory": [{"product_id": "P"}]}}, "product_id") == "data.inventory"
    assert find_path([{"product_id": "P"}], "product_id") == "" and find_path({"a": 1}, "product_id") is None


def test_products_read_from_rows_or_a_mapping() -> None:
    """Rows with the contract's fields (position where given), or {product: row | quantity}."""
    fields = ProductFields()
    rows = products_of({"inventory": [{"product_id": "P1", "available_quantity": 5, "reserved_quantity": 2,
                                       "position": 9}]}, "inventory", fields)
    assert (rows["P1"].available, rows["P1"].reserved, rows["P1"].position) == (5, 2, 9)
    mapping = products_of({"P1": {"available_quantity": 4}, "P2": 7}, "", fields)
    assert (mapping["P1"].available, mapping["P2"].available, mapping["P2"].reserved) == (4, 7, None)
    assert products_of({"inventory": "nope"}, "inventory", fields) == {}


def test_headers_take_environment_variables() -> None:
    """${VAR} is filled from the environment; an unset one is refused by name."""
    assert expand_headers({"Authorization": "Bearer ${T}"}, {"T": "abc"}) == {"Authorization": "Bearer abc"}
    with pytest.raises(Refused) as exc:
        expand_headers({"A": "${NOPE} ${T}"}, {"T": "x"})
    assert str(exc.value) == "system.headers: environment variable not set: NOPE"


def test_the_load_is_sized_so_the_stock_lasts() -> None:
    """Without a reset the share of orders is lowered until the planned run drains at most a quarter of the
    smallest stock; with ample stock it stays; with cancels the drain is half the orders'; restocks add."""
    experiment = parse(Experiment, {"repeat": 3, "load": {"rate_rps": 50, "order_ratio": 0.2, "duration_s": 5,
                                                          "settle_s": 2},
                                    "phases": [{"name": "baseline"},
                                               {"name": "l", "fault": {"kind": "latency", "replicas": [2]}}]})
    assert net_drain("mix", 0.2, cancels=True, restocks=False) == pytest.approx(0.2)
    assert net_drain("mix", 0.2, cancels=False, restocks=False) == pytest.approx(0.4)
    assert net_drain("mix", 0.2, cancels=True, restocks=True) < 0
    ample = size_load(experiment, {"P1": 100_000, "P2": 100_000}, cancels=True, restocks=False)
    assert ample["order_ratio"] == 0.2 and not ample["lowered"]
    small = size_load(experiment, {"P1": 200, "P2": 1000}, cancels=True, restocks=False)
    assert small["lowered"] and 0 < small["order_ratio"] < 0.2
    assert small["expected_drain_per_product"] <= 0.25 * 200
    assert size_load(experiment, {"P1": 0}, cancels=True, restocks=False)["order_ratio"] == 0.0


def test_the_shop_is_not_a_contract() -> None:
    """`SystemContract("shop")` parses, and equals the shop however it is written."""
    assert parse(SystemContract, "shop") == parse(SystemContract, {"kind": "shop"})


def test_the_loads_reads_and_writes_follow_the_contract() -> None:
    """Orders and cancels as the contract writes them (headers on each); a voted answer read at the items path, or one
    product's row where a shorter part of that path leads."""
    from faultlab.lab.systems.guide_api import GuideApi

    api = GuideApi(guide_contract(voter={"items_path": "data.inventory", "voted_one_path": "/v/{product_id}"},
                                  orders={"cancel_method": "POST", "cancel_path": "/orders/{id}/cancel",
                                          "order_id_path": "data.id"}), {"X-Token": "t"})
    order = api.order("PROD-001", 2, "k-1")
    assert (order.method, order.url, order.body) == ("POST", "http://localhost:5006/orders",
                                                     b'{"product_id":"PROD-001","quantity":2}')
    assert order.headers == {"X-Token": "t", "Idempotency-Key": "k-1"}
    cancel = api.cancel("o-9", "PROD-001", 2)
    assert (cancel.method, cancel.url) == ("POST", "http://localhost:5006/orders/o-9/cancel")
    assert api.voted_one("PROD-002").url == "http://localhost:5005/v/PROD-002"
    assert api.order_id({"data": {"id": 9}}) == "9" and api.order_id({"id": 9}) is None
    one = api.read_items({"data": {"product_id": "P", "available_quantity": 3, "reserved_quantity": 1}})
    every = api.read_items({"data": {"inventory": [{"product_id": "P", "available_quantity": 3}]}})
    assert [(i.product_id, i.available, i.reserved) for i in one + every] == [("P", 3, 1), ("P", 3, None)]
    with pytest.raises(KeyError):
        api.read_items({"error": "quorum not reached"})
    assert not api.restocks
