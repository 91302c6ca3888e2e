"""The lab across network namespaces: a partitioned replica is masked, detected and healed; nothing is left behind."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from benchmarks.harness import lab_settings
from faultlab.core import netns
from faultlab.core.config import Settings
from faultlab.core.said import text_of
from faultlab.faults import FaultError
from faultlab.faults.network import parse_net_fault
from faultlab.faults.network.partition import Partition
from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.phases import DEFAULT_PHASES, NETWORK_PHASES, build_experiment, select_phases
from faultlab.lab.report import build_report, validate, write_run
from faultlab.lab.workload import request_factory
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import get_json, model_state, post_orders, wait_converged

pytestmark = pytest.mark.timeout(240)
NO_NETNS = netns.unavailable_reason()
needs_netns = pytest.mark.skipif(NO_NETNS is not None, reason=f"namespace lab unavailable: {NO_NETNS}")


async def _sh(*argv: str) -> str:
    """The output of one iproute2 command, run off the event loop."""
    done = await asyncio.to_thread(subprocess.run, list(argv), capture_output=True, text=True, check=False)
    return done.stdout


def _ours(tag: str) -> dict[str, list[str]]:
    """Every namespace, link and claim whose name starts with this lab's tag (flab<N>-)."""
    return {"namespaces": [n for n in netns.namespaces() if n.startswith(f"{tag}-")],
            "links": [n for n in netns.links() if n.startswith(f"{tag}-")],
            "claims": [p.name for p in netns.CLAIMS.glob(f"{tag[len(netns.PREFIX):]}.pid")]}


# ---- pure logic: no root needed ------------------------------------------------------------------------


def test_partition_of_one_replica_routes_only_inside_that_replica() -> None:
    """partition --instance 2: blackhole routes in inventory-2's namespace to every other node, none elsewhere."""
    nodes = ["monitor", "inventory-1", "inventory-2", "orders", "voter"]
    fault = parse_net_fault({"kind": "partition", "instance": 2}, [1, 2, 3])
    assert isinstance(fault, Partition)
    routes = fault.routes(nodes)
    assert {a for a, _b in routes} == {"inventory-2"}
    assert {b for _a, b in routes} == {"monitor", "inventory-1", "orders", "voter", "host"}
    assert fault.replicas() == [2]


def test_group_partition_keeps_the_broker_side_as_anchor() -> None:
    """Groups: the side with `host` gets no routes; each other side gets routes to every node outside it."""
    fault = parse_net_fault({"kind": "partition", "groups": [["inventory-1", "voter"], ["host", "monitor"]]},
                            [1, 2, 3])
    assert isinstance(fault, Partition)
    assert fault.routes([]) == {("inventory-1", "host"), ("inventory-1", "monitor"), ("voter", "host"),
                                ("voter", "monitor")}
    assert fault.replicas() == [1]


@pytest.mark.parametrize("params, message", [
    ({"kind": "partition"}, "either instance"),
    ({"kind": "partition", "instance": 4}, "instance must be one of"),
    ({"kind": "partition", "groups": [["inventory-1"]]}, "groups: must have at least 2 item"),
    ({"kind": "partition", "groups": [["inventory-1"], ["inventory-1"]]}, "in two groups"),
    ({"kind": "partition", "groups": [["inventory-1"], ["8.8.8.8"]]}, "unknown node"),
    ({"kind": "partition", "instance": 1, "delay_ms": 5}, "delay_ms: unknown field"),
    ({"kind": "netem", "instance": 1}, "needs delay_ms"),
    ({"kind": "netem", "instance": 1, "loss_pct": 101}, "loss_pct: must be ≤ 100"),
    ({"kind": "netem", "instance": 1, "delay_ms": 10, "jitter_ms": 20}, "jitter_ms must not exceed"),
    ({"kind": "netem", "instance": 1, "delay_ms": 10, "rate": 1}, "rate: unknown field"),
])
def test_bad_network_fault_parameters_are_refused(params: dict[str, Any], message: str) -> None:
    """Invalid network-fault parameters raise FaultError naming the problem (the supervisor answers 400)."""
    with pytest.raises(FaultError, match=message):
        parse_net_fault(params, [1, 2, 3])


def test_netem_arguments_carry_units_and_seed() -> None:
    """netem's tc arguments: per-direction delay with jitter, loss and duplication in %, the seed when supported."""
    fault = parse_net_fault({"kind": "netem", "instance": 1, "delay_ms": 200, "jitter_ms": 20, "loss_pct": 5,
                             "duplicate_pct": 1, "seed": 7}, [1, 2, 3])
    assert fault.tc_args(seed_supported=True) == ["netem", "delay", "200ms", "20ms", "loss", "5%",  # type: ignore
                                                  "duplicate", "1%", "seed", "7"]
    assert fault.tc_args(seed_supported=False)[-2:] == ["duplicate", "1%"]  # type: ignore[union-attr]


def test_service_hosts_default_keeps_loopback_and_maps_each_service() -> None:
    """Empty service_hosts: every URL as before; a map moves each service (and broker, database) to its host."""
    plain = Settings()
    assert plain.replica_url(2) == "http://127.0.0.1:5002" and plain.bootstrap == "127.0.0.1:9092"
    assert plain.service_url("monitor") == "http://127.0.0.1:5004"
    mapped = Settings(service_hosts={"inventory-2": "10.213.0.12", "monitor": "monitor", "broker": "kafka-1",
                                     "postgres": "db"})
    assert mapped.replica_url(2) == "http://10.213.0.12:5002" and mapped.replica_url(1) == "http://127.0.0.1:5001"
    assert mapped.service_url("monitor") == "http://monitor:5004"
    assert mapped.bootstrap == "kafka-1:9092" and mapped.dsn.startswith("postgresql://postgres@db:5432/")
    with pytest.raises(ValueError, match="unknown service"):
        Settings(service_hosts={"inventroy-1": "x"})


async def test_network_faults_answer_409_without_namespaces(tmp_path: Path) -> None:
    """A lab without --netns: POST/DELETE /netfaults need the token (401), then answer 409 with the reason."""
    lab = Supervisor(lab_settings(tmp_path))
    await lab.api.start("127.0.0.1", lab.settings.supervisor_port)
    url = f"http://127.0.0.1:{lab.settings.supervisor_port}/netfaults"
    token = {"Authorization": f"Bearer {lab.settings.admin_token}"}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json={"kind": "partition", "instance": 1}) as resp:
                assert resp.status == 401
            async with http.post(url, json={"kind": "partition", "instance": 1}, headers=token) as resp:
                assert resp.status == 409 and "--netns" in (await resp.json())["error"]
            async with http.delete(url, headers=token) as resp:
                assert resp.status == 409
            async with http.get(url) as resp:
                assert (await resp.json()) == {"netns": False, "faults": []}
    finally:
        await lab.api.stop()


def test_network_phases_join_the_default_only_on_a_namespace_lab() -> None:
    assert [p.name for p in select_phases(None)] == list(DEFAULT_PHASES)
    assert [p.name for p in select_phases(None, netns=True)] == [*DEFAULT_PHASES, *NETWORK_PHASES]
    assert NETWORK_PHASES == ("partition",) and select_phases("partition")[0].needs_netns


async def test_a_network_phase_on_a_plain_lab_aborts_with_the_reason(tmp_path: Path) -> None:
    """Asked for the partition phase, an experiment on a lab without namespaces stops before any load."""
    lab = Supervisor(lab_settings(tmp_path))
    await lab.api.start("127.0.0.1", lab.settings.supervisor_port)
    try:
        runner = ExperimentRunner(lab.settings, build_experiment(phases="partition", repeat=1))
        data = await runner.run()
    finally:
        await lab.api.stop()
    assert data["aborted"] and "--netns" in text_of(data["aborted"]), data["aborted"]
    assert data["results"] == [] and runner.load is None


# ---- on the real network (root and iproute2) -------------------------------------------------------------


@needs_netns
def test_a_crashed_owners_network_is_removed_by_the_next_allocation() -> None:
    """Namespaces and links whose owner died (a crashed lab) are deleted by name prefix on the next allocate."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = netns.NetnsNetwork.allocate(["inventory-1", "voter"], owner_pid=dead.pid)
    try:
        left.create()
        assert len(_ours(left.tag)["namespaces"]) == 2
        fresh = netns.NetnsNetwork.allocate(["voter"])
        fresh.destroy()
        assert _ours(left.tag) == {"namespaces": [], "links": [], "claims": []}
    finally:
        left.destroy()


@pytest.fixture(scope="module")
async def netns_lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    """A lab of its own with each service in a namespace; on exit, checks that every trace of it is gone."""
    stock = {"PROD-001": 1000, "PROD-002": 500, "PROD-003": 750}
    lab = Supervisor(lab_settings(tmp_path_factory.mktemp("netns"), initial_stock=stock), netns=True)
    assert lab.network is not None
    tag = lab.network.tag
    try:
        await lab.start(timeout_s=90)
        yield lab
    finally:
        await lab.stop()
    assert _ours(tag) == {"namespaces": [], "links": [], "claims": []}


async def _supervisor(http: aiohttp.ClientSession, lab: Supervisor, method: str, query: str = "",
                      body: dict[str, Any] | None = None) -> Any:
    url = f"http://127.0.0.1:{lab.settings.supervisor_port}/netfaults{query}"
    headers = {"Authorization": f"Bearer {lab.settings.admin_token}"}
    async with http.request(method, url, json=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _episode(http: aiohttp.ClientSession, lab: Supervisor, replica: int, field: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/failures")
        for e in reversed(body["failures"]):
            if e["replica"] == replica and e["fault_kind"] == "partition" and e.get(field) is not None:
                return e
        await asyncio.sleep(0.05)
    raise AssertionError(f"no partition episode with {field} for replica {replica}")


async def _voted(http: aiohttp.ClientSession, lab: Supervisor) -> dict[str, tuple[int, int]]:
    status, body = await get_json(http, f"{lab.settings.service_url('voter')}/inventory/voted")
    assert status == 200, body
    return {i["product_id"]: (i["available_quantity"], i["reserved_quantity"]) for i in body["inventory"]}


async def _model_when_published(lab: Supervisor) -> dict[str, tuple[int, int]]:
    """The single-copy model once every accepted order is numbered and published."""
    while True:
        conn = await asyncpg.connect(lab.settings.dsn)
        try:
            pending = await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published")
        finally:
            await conn.close()
        if pending == 0:
            model = await model_state(lab)
            return {p: (s.available, s.reserved) for p, s in model.products.items()}
        await asyncio.sleep(0.05)


async def voter_sockets_to(lab: Supervisor, node: netns.Node) -> dict[str, int]:
    """The voter's TCP sockets to a node, by state."""
    assert lab.network is not None
    return await asyncio.to_thread(lab.network.sockets, "voter", node.name)


async def _partition_and_heal(http: aiohttp.ClientSession, lab: Supervisor, inv2: netns.Node) -> Any:
    """Partition replica 2, check masking and detection, order while it is cut off, heal, check convergence."""
    assert lab.network is not None
    await asyncio.sleep(0.5)
    _s, stats_before = await get_json(http, f"{lab.settings.service_url('voter')}/voting/stats")
    _s, status_before = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    injected = (await _supervisor(http, lab, "POST", body={"kind": "partition", "instance": 2}))["fault"]
    routes = await _sh("ip", "-n", inv2.namespace, "route")
    assert f"blackhole {lab.network.host_address}" in routes
    detected = await _episode(http, lab, 2, "detected_at", timeout_s=10)
    assert detected["activated_at"] == pytest.approx(injected["activated_at"], abs=1e-6)
    assert 0 <= detected["ttd_ms"] < 2000
    # Under the partition each read's connect to replica 2 gets no answer: bounded by the connect timeout and the
    # voter's cap per replica (64 open or connecting), not left in SYN-SENT for minutes. The connections open before
    # the cut (at most the cap) close and wait for a FIN that cannot arrive: the kernel's, outside the cap, but no
    # more of them than the cap either. The healthy replicas get no evidence against them.
    peak_live = peak_all = 0
    for _ in range(10):
        await asyncio.sleep(0.5)
        states = await voter_sockets_to(lab, inv2)
        peak_live = max(peak_live, states.get("SYN-SENT", 0) + states.get("ESTAB", 0))
        peak_all = max(peak_all, sum(states.values()))
    assert 0 < peak_live <= 64 and peak_all <= 2 * 64, (peak_live, peak_all, states)
    _s, stats = await get_json(http, f"{lab.settings.service_url('voter')}/voting/stats")
    for healthy in ("1", "3"):
        assert stats["replicas"][healthy]["failures"] == stats_before["replicas"][healthy]["failures"], healthy
    _s, status = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    for i in (0, 2):
        assert status["instances"][i]["transitions"] == status_before["instances"][i]["transitions"]

    accepted = await post_orders(http, lab, [("PROD-002", 3)] * 20)  # replica 2 cannot see these
    assert len(accepted) == 20
    want = await asyncio.wait_for(_model_when_published(lab), 15)
    deadline = time.monotonic() + 15
    while await _voted(http, lab) != want:  # replicas 1 and 3 apply the new orders
        assert time.monotonic() < deadline, "the majority never reached the model"
        await asyncio.sleep(0.1)
    for _ in range(20):
        assert await _voted(http, lab) == want
    _s, status = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    assert status["instances"][1]["status"] == "OFF"

    cleared = await _supervisor(http, lab, "DELETE", "?instance=2")
    assert [f["kind"] for f in cleared["cleared"]] == ["partition"]
    assert "blackhole" not in await _sh("ip", "-n", inv2.namespace, "route")
    recovered = await _episode(http, lab, 2, "recovered_at", timeout_s=30)
    deadline = time.monotonic() + 5  # connects begun before the heal end within the connect timeout (0.4 s)
    while (await voter_sockets_to(lab, inv2)).get("SYN-SENT", 0):
        assert time.monotonic() < deadline, "the voter still has connects to replica 2 in SYN-SENT after the heal"
        await asyncio.sleep(0.1)
    assert recovered["cleared_at"] == pytest.approx(cleared["cleared_at"], abs=1e-6)
    assert recovered["ttr_ms"] is not None and recovered["recovered_at"] >= recovered["cleared_at"]
    await wait_converged(lab, http)
    return recovered


@needs_netns
async def test_partitioned_replica_is_masked_detected_and_converges(netns_lab: Supervisor) -> None:
    """Replica 2 cut off under voted-read load: every read answered right, OFF within 2 s, equal again after heal."""
    lab = netns_lab
    assert lab.network is not None
    inv2 = lab.network.nodes["inventory-2"]
    assert lab.settings.replica_url(2) == f"http://{inv2.address}:{lab.settings.replica_port(2)}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await post_orders(http, lab, [("PROD-001", 2)] * 20)
        await wait_converged(lab, http)
        reads = OpenLoopLoad(request_factory(lab.settings, "voted", seed=1), rate=100, duration_s=60, target="voted")
        load = asyncio.create_task(reads.run(http))
        try:
            recovered = await _partition_and_heal(http, lab, inv2)
        finally:
            reads.stop()
            result = await load
            await _supervisor(http, lab, "DELETE")  # a failed check must not leave the next tests a partition
        assert result.sent > 100 and result.ok == result.sent, result.describe()["errors"]
        print(f"\npartition of replica 2: TTD {recovered['ttd_ms']} ms ({recovered['detected_by']}), "
              f"TTR {recovered['ttr_ms']} ms")


@needs_netns
async def test_netem_is_applied_or_refused_with_the_reason(netns_lab: Supervisor) -> None:
    """netem on replica 1: both veth ends get the qdisc, or (a kernel without sch_netem) 501 and nothing changes."""
    lab = netns_lab
    assert lab.network is not None
    node = lab.network.nodes["inventory-1"]
    url = f"http://127.0.0.1:{lab.settings.supervisor_port}/netfaults"
    headers = {"Authorization": f"Bearer {lab.settings.admin_token}"}
    body = {"kind": "netem", "instance": 1, "delay_ms": 50, "loss_pct": 1, "seed": 3}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers=headers) as resp:
            answer = await resp.json()
            assert resp.status in (200, 501), answer
        qdisc = await _sh("tc", "qdisc", "show", "dev", node.host_link)
        if resp.status == 501:
            assert "netem" in answer["error"] and "netem" not in qdisc
            assert (await get_json(http, url))[1]["faults"] == []
            return
        assert "netem" in qdisc and "delay 50ms" in qdisc
        inside = await _sh("tc", "-n", node.namespace, "qdisc", "show", "dev", node.ns_link)
        assert "netem" in inside
        async with http.delete(f"{url}?instance=1", headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["cleared"][0]["kind"] == "netem"
        qdisc = await _sh("tc", "qdisc", "show", "dev", node.host_link)
        assert "netem" not in qdisc


@needs_netns
async def test_the_experiment_runs_the_partition_phase(netns_lab: Supervisor, tmp_path: Path) -> None:
    """`faultlab experiment` on a namespace lab: replica 3 partitioned under load, detected, healed, data exact."""
    lab = netns_lab
    config = build_experiment(phases="partition", repeat=1, rate=40, duration_s=2.0, settle_s=0.5, seed=5)
    steps: list[str] = []
    data = await ExperimentRunner(lab.settings, config, on_step=steps.append).run()
    assert data["aborted"] is None, data["aborted"]
    [result] = data["results"]
    assert result.phase == "partition" and result.fault is not None and result.fault.kind == "partition", result
    assert result.ttd_ms is not None and result.ttr_ms is not None, result
    assert (result.load_test_result.success_rate or 0) >= 99.0, result.load_test_result
    assert data["data_check"]["valid"] is True, data["data_check"]
    assert [e["event"] for e in data["timeline"]] == ["fault_injected", "fault_cleared"]
    report = build_report(data, {"replicas": 3, "netns": True}, "netns test")
    validate(report)
    run_dir = write_run(report, data["events"], tmp_path / "runs", lab.logs)
    assert "partition" in (run_dir / "report.html").read_text()
    async with aiohttp.ClientSession() as http:
        _s, listed = await get_json(http, f"http://127.0.0.1:{lab.settings.supervisor_port}/netfaults")
    assert listed["faults"] == []
    assert "blackhole" not in await _sh("ip", "-n", lab.network.nodes["inventory-3"].namespace, "route")
    print(f"\nexperiment partition phase: TTD {result.ttd_ms} ms, TTR {result.ttr_ms} ms, "
          f"success {result.load_test_result.success_rate} %")
