"""The study guide's requests and the answers its clients check, against the real lab.

Each test sends what the guide's scripts send (`scripts/inject_failures.py`, `experiment_runner.py`,
`load_test.py`, `cleanup_experiment.py`, `test_services.py`, `start_experiment.sh`) and checks what they check,
plus the guide's scenarios (one instance down, two down: "quorum not reached"). The only difference allowed is
the operator token on fault requests, sent here as the guide's clients can send it without a code change: HTTP
Basic credentials whose password is the token (what `requests` reads from ~/.netrc).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import aiohttp
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json

pytestmark = pytest.mark.timeout(120)

GUIDE_NAMES = {"orders": "orders-svc", "monitor": "monitor-svc", "voter": "voter-svc", "dashboard": "dashboard"}


def basic(lab: Supervisor, password: str | None = None) -> dict[str, str]:
    """What `requests` sends from a netrc line `machine localhost login faultlab password <token>`."""
    raw = f"faultlab:{lab.settings.admin_token if password is None else password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def guide_inject(http: aiohttp.ClientSession, lab: Supervisor, replica: int, body: dict[str, Any],
                       headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{lab.settings.replica_url(replica)}/inject-failure", json=body,
                         headers=basic(lab) if headers is None else headers) as resp:
        return resp.status, await resp.json()


async def active_kinds(http: aiohttp.ClientSession, lab: Supervisor, replica: int) -> list[str]:
    _s, body = await get_json(http, f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab))
    return [f["kind"] for f in body["faults"]]


async def wait_instance(http: aiohttp.ClientSession, lab: Supervisor, instance_id: str, status: str,
                        timeout_s: float = 15) -> dict[str, Any]:
    """Poll the monitor's /status the way the guide's experiment runner does, until the instance has `status`."""
    deadline = time.monotonic() + timeout_s
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        _s, body = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
        rows = body["instances"]
        for row in rows:
            if row["service_name"] == "inventory-svc" and row["instance_id"] == instance_id and row["status"] == status:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"instance {instance_id} never {status}: {[(r['instance_id'], r['status']) for r in rows]}")


@pytest.mark.parametrize("body, guide_type, kind", [
    ({"type": "latency", "latency_ms": 1200}, "latency", "latency"),
    ({"type": "intermittent", "probability": 0.3}, "intermittent", "intermittent"),
    ({"type": "incorrect_response", "product_id": "PROD-001"}, "incorrect_response", "incorrect"),
    ({"failure_type": "latency", "latency_ms": 1000}, "latency", "latency"),
    ({"failure_type": "intermittent", "probability": 0.5}, "intermittent", "intermittent"),
    ({"type": "hang"}, "hang", "hang"),
    ({"type": "stale"}, "stale", "stale"),
])
async def test_inject_failure_answers_200_with_the_guide_fields_and_clear_clears(
        settled: Supervisor, http: aiohttp.ClientSession, body: dict[str, Any], guide_type: str, kind: str) -> None:
    """Every kind the guide's script sends (type or failure_type) is active after a 200; type clear removes it."""
    lab = settled
    status, answer = await guide_inject(http, lab, 3, body)
    assert status == 200, answer
    assert answer["failure_injected"] is True and answer["failure_type"] == guide_type
    assert answer["message"] == "Failure injection updated for inventory-svc-3"
    assert answer["fault"]["kind"] == kind and answer["activated_at"] > 0
    assert await active_kinds(http, lab, 3) == [kind]
    for clear in ({"type": "clear"}, {"failure_type": "clear"}):
        status, answer = await guide_inject(http, lab, 3, clear)
        assert status == 200, answer
        assert answer["failure_injected"] is False and answer["failure_type"] is None
    assert await active_kinds(http, lab, 3) == []


async def test_inject_failure_refuses_bad_actions_and_changes_nothing(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """An unknown kind, names that disagree or a parameter of another kind: 400, and no fault is active."""
    lab = settled
    for body in ({"type": "meteor"}, {"type": "clear", "failure_type": "latency"}, {"type": "clear", "latency_ms": 5},
                 {"type": "latency", "probability": 0.3}, {"type": "latency", "latency_ms": -1}, {}):
        status, answer = await guide_inject(http, lab, 2, body)
        assert status == 400 and answer["error"], (body, status, answer)
    assert await active_kinds(http, lab, 2) == []


async def test_fault_requests_need_the_token_and_take_it_as_basic_password(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """No token, a wrong Basic password or a malformed Basic header: 401 and nothing changes; the right one: 200."""
    lab = settled
    body = {"type": "latency", "latency_ms": 1200}
    bad = [{}, basic(lab, "wrong"), {"Authorization": "Basic !!!not-base64"},
           {"Authorization": "Basic " + base64.b64encode(lab.settings.admin_token.encode()).decode()}]  # no colon
    for headers in bad:
        status, answer = await guide_inject(http, lab, 1, body, headers=headers)
        assert status == 401 and "token" in answer["error"], (headers, status)
    assert await active_kinds(http, lab, 1) == []
    any_user = {"Authorization": "Basic " + base64.b64encode(f"me:{lab.settings.admin_token}".encode()).decode()}
    status, _answer = await guide_inject(http, lab, 1, body, headers=any_user)
    assert status == 200
    status, _answer = await guide_inject(http, lab, 1, {"type": "clear"}, headers=auth(lab))  # Bearer still works
    assert status == 200 and await active_kinds(http, lab, 1) == []


async def test_requests_sends_the_token_from_a_netrc_file(settled: Supervisor, tmp_path: Any) -> None:
    """The guide's unchanged client code (requests.post without auth) passes with the lines `faultlab token --netrc`
    prints in a netrc file: the one-line set-up the guide mapping documents."""
    import os

    import requests

    from faultlab.cli.control import netrc_lines

    lab = settled
    netrc = tmp_path / "netrc"
    netrc.write_text("\n".join(netrc_lines(lab.settings.admin_token, lab.settings.host)) + "\n")
    netrc.chmod(0o600)
    url = f"http://localhost:{lab.settings.replica_port(2)}/inject-failure"

    def guide_client() -> list[int]:
        before = os.environ.get("NETRC")
        os.environ["NETRC"] = str(netrc)
        try:
            return [requests.post(url, json=body, timeout=5).status_code
                    for body in ({"type": "latency", "latency_ms": 1200}, {"type": "clear"})]
        finally:
            if before is None:
                os.environ.pop("NETRC", None)
            else:
                os.environ["NETRC"] = before

    assert await asyncio.to_thread(guide_client) == [200, 200]
    without = await asyncio.to_thread(lambda: requests.post(url, json={"type": "clear"}, timeout=5).status_code)
    assert without == 401


async def test_crash_answers_200_and_the_monitor_shows_instance_1_off_then_on(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """Crash via the guide's request: 200, the monitor turns instance "1" OFF, then ON once the replica is back;
    its failure row has the guide's fields."""
    lab = settled
    monitor = lab.settings.service_url("monitor")
    _s, body = await get_json(http, f"{monitor}/events?format=json&since={2**62}")
    last = body["next"] - 1
    since = time.time()
    status, answer = await guide_inject(http, lab, 1, {"type": "crash"})
    assert status == 200 and answer["failure_type"] == "crash" and answer["failure_injected"] is True
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while "ON" not in seen and time.monotonic() < deadline:
        _s, body = await get_json(http, f"{monitor}/events?format=json&since={last}")
        for event in body["events"]:
            last = event["id"]
            if event["type"] == "state" and event["replica"] == 1 and (event["status"] == "OFF" or seen):
                seen.append(event["status"])
        await asyncio.sleep(0.05)
    assert seen[:1] == ["OFF"] and "ON" in seen, seen
    row = await wait_instance(http, lab, "1", "ON")
    assert row["instance_name"] == "inventory-svc-1"
    status, one = await get_json(http, f"{monitor}/status/inventory-svc/1")
    assert status == 200 and one["instance_id"] == "1" and one["status"] == "ON"
    _s, body = await get_json(http, f"{monitor}/failures")
    crash = [f for f in body["failures"] if f["instance_id"] == "1" and (f["activated_at"] or 0) >= since - 0.1]
    assert crash and crash[-1]["failure_type"] == "crash" and crash[-1]["service_name"] == "inventory-svc"
    assert crash[-1]["detected_at"] is not None


async def test_latency_is_seen_off_and_on_as_the_guide_runner_polls(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """The guide's latency phase: instance "2" OFF in /status after the injection, ON after type clear."""
    lab = settled
    status, _answer = await guide_inject(http, lab, 2, {"type": "latency", "latency_ms": 1200})
    assert status == 200
    off = await wait_instance(http, lab, "2", "OFF")
    assert off["replica"] == 2
    status, _answer = await guide_inject(http, lab, 2, {"type": "clear"})
    assert status == 200
    await wait_instance(http, lab, "2", "ON")


async def test_voted_reads_on_the_guide_paths_answer_with_the_guide_fields(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """GET /inventory/{id} and /inventory on the voter: 200 with success, data and the vote; /voting-stats counts them."""
    lab = settled
    voter = lab.settings.service_url("voter")
    status, one = await get_json(http, f"{voter}/inventory/PROD-001")
    assert status == 200 and one["success"] is True and one["quorum_achieved"] is True
    data = one["data"]
    assert data["product_id"] == "PROD-001" and data["available_quantity"] == one["available_quantity"]
    assert data["reserved_quantity"] == one["reserved_quantity"] and one["successful_responses"] >= 2
    _s, replica = await get_json(http, f"{lab.settings.replica_url(1)}/inventory/PROD-001")
    assert data["available_quantity"] + data["reserved_quantity"] == \
        replica["available_quantity"] + replica["reserved_quantity"]
    status, every = await get_json(http, f"{voter}/inventory")
    assert status == 200 and every["success"] is True
    assert {i["product_id"] for i in every["data"]["inventory"]} == set(lab.settings.initial_stock)
    status, missing = await get_json(http, f"{voter}/inventory/NO-SUCH")
    assert status == 404 and missing["error"]
    _s, before = await get_json(http, f"{voter}/voting-stats")
    await get_json(http, f"{voter}/inventory/PROD-002")
    status, after = await get_json(http, f"{voter}/voting-stats")
    assert status == 200 and after["voting_stats"]["total_requests"] == before["voting_stats"]["total_requests"] + 1
    assert after["voting_stats"]["avg_response_time"] > 0


async def test_two_of_three_down_gives_quorum_not_reached(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """The guide's scenario 2: with two replicas failing, a guide read answers 503 "quorum not reached"; cleared,
    the reads are answered again."""
    lab = settled
    voter = lab.settings.service_url("voter")
    for replica in (1, 2):
        status, _answer = await guide_inject(http, lab, replica, {"type": "intermittent", "probability": 1.0})
        assert status == 200
    try:
        status, body = await get_json(http, f"{voter}/inventory/PROD-001")
        assert status == 503 and body["error"] == "quorum not reached"
        assert body["success"] is False and body["quorum_achieved"] is False and "data" not in body
    finally:
        for replica in (1, 2):
            await guide_inject(http, lab, replica, {"type": "clear"})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = await get_json(http, f"{voter}/inventory/PROD-001")
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert status == 200 and body["success"] is True


async def test_every_service_health_speaks_the_guide(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """curl localhost:500N/health of every service: 200, status UP, the guide's service name and a timestamp."""
    lab = settled
    targets = {**{name: lab.settings.service_url(c) for c, name in GUIDE_NAMES.items()},
               **{f"inventory-svc-{r}": lab.settings.replica_url(r) for r in lab.settings.replica_ids}}
    for name, url in targets.items():
        status, body = await get_json(http, f"{url}/health")
        assert status == 200 and body["status"] == "UP" and body["service"] == name, body
        assert body["working"] is True and body["timestamp"].startswith("20")


async def test_monitor_metrics_json_when_asked_and_prometheus_otherwise(
        settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """GET :5004/metrics is the guide's JSON (every service's rows) unless the client asks for text (Prometheus
    does): the guide's load test reads it with requests' `Accept: */*`."""
    lab = settled
    url = f"{lab.settings.service_url('monitor')}/metrics"
    for accept in ("text/plain", "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"):
        async with http.get(url, headers={"Accept": accept}) as resp:
            assert resp.content_type == "text/plain" and "faultlab_requests_total" in await resp.text()
    for headers in ({"Accept": "*/*"}, {}):
        async with http.get(url, headers=headers, skip_auto_headers=["Accept"]) as resp:
            assert resp.content_type == "application/json" and "metrics" in await resp.json()
    deadline = time.monotonic() + 15  # every service writes its counts every 5 s
    services: set[str] = set()
    while time.monotonic() < deadline and not {"voter-svc", "inventory-svc-1"} <= services:
        status, body = await get_json(http, f"{url}?minutes=10", headers={"Accept": "application/json"})
        assert status == 200 and body["period_minutes"] == 10
        services = {row["service_name"] for row in body["metrics"]}
        await asyncio.sleep(0.5)
    assert {"voter-svc", "inventory-svc-1"} <= services, services
    row = body["metrics"][0]
    assert {"endpoint", "method", "status_code", "request_count", "avg_latency"} <= set(row)
    status, body = await get_json(http, f"{url}?minutes=0", headers={"Accept": "application/json"})
    assert status == 400 and body["error"]


async def test_monitor_status_of_one_instance(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """GET /status/inventory-svc/{n} is that instance's row; an unknown instance is 404 with a message."""
    lab = settled
    monitor = lab.settings.service_url("monitor")
    for replica in lab.settings.replica_ids:
        for name in (str(replica), f"inventory-svc-{replica}"):
            status, row = await get_json(http, f"{monitor}/status/inventory-svc/{name}")
            assert status == 200 and row["replica"] == replica and row["instance_id"] == str(replica)
    status, row = await get_json(http, f"{monitor}/status/voter-svc/voter-svc")
    assert status == 200 and row["status"] == "ON"
    status, body = await get_json(http, f"{monitor}/status/inventory-svc/9")
    assert status == 404 and body["error"] == "Instance not found"


async def test_dashboard_guide_api(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """The guide's dashboard API: /api/health (what its cleanup reads), /api/instances, /api/summary."""
    lab = settled
    base = lab.settings.service_url("dashboard")
    status, health = await get_json(http, f"{base}/api/health")
    assert status == 200
    assert set(health) == {"orders-svc", "inventory-svc-1", "inventory-svc-2", "inventory-svc-3", "monitor-svc",
                           "voter-svc", "dashboard"}
    assert all(s["status"] == "UP" and s["response_time"] > 0 for s in health.values()), health
    status, rows = await get_json(http, f"{base}/api/instances")
    assert status == 200 and [r["instance_id"] for r in rows] == ["1", "2", "3"]
    assert all(r["service_name"] == "inventory-svc" and r["status"] == "ON" and r["last_health_check"] for r in rows)
    status, summary = await get_json(http, f"{base}/api/summary")
    assert status == 200
    assert summary["services"] == {"total": 7, "healthy": 7, "unhealthy": 0, "health_percentage": 100.0}
    assert summary["instances"]["total"] == 3 and summary["instances"]["active"] == 3
    assert summary["performance"]["total_requests_1h"] > 0
    for path in ("/api/failures", "/api/metrics"):
        status, body = await get_json(http, f"{base}{path}")
        assert status == 200 and isinstance(body, list)
    status, body = await get_json(http, f"{base}/api/failures?hours=0")
    assert status == 400 and body["error"]
