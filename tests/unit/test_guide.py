"""The guide's vocabulary on literal inputs: tokens from Basic headers, netrc lines, guide fields of voted answers,
the dashboard's summary, failure rows and /inject-failure actions."""

from __future__ import annotations

import base64
import netrc
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from faultlab.cli.control import netrc_lines
from faultlab.core.config import Settings
from faultlab.core.guide import health_body
from faultlab.core.web import SETTINGS, ApiError, require_token, wants_json
from faultlab.lab.dashboard.guide_api import summary
from faultlab.shop.inventory.guide_api import action_of
from faultlab.shop.monitor.guide_api import failure_row
from faultlab.shop.voter.guide_api import guide_fields, voting_stats


def request_with(headers: dict[str, str], token: str = "s3cret") -> web.Request:
    app = web.Application()
    app[SETTINGS] = Settings(admin_token=token)
    return make_mocked_request("POST", "/inject-failure", headers=headers, app=app)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer s3cret"},
    {"Authorization": f"Basic {b64('faultlab:s3cret')}"},
    {"Authorization": f"Basic {b64('anyone:s3cret')}"},
    {"Authorization": f"basic {b64(':s3cret')}"},
    {"X-Admin-Token": "s3cret"},
])
def test_token_accepted_as_bearer_basic_password_or_header(headers: dict[str, str]) -> None:
    """The token passes as Bearer, as the password of Basic credentials (any user) or as X-Admin-Token."""
    require_token(request_with(headers))


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {b64('faultlab:wrong')}"},
    {"Authorization": f"Basic {b64('s3cret')}"},  # no colon: a user name, no password
    {"Authorization": f"Basic {b64('s3cret:')}"},  # the token as user name does not count
    {"Authorization": "Basic %%%"},
    {"Authorization": "Basic " + base64.b64encode(b"faultlab:\xff\xfe").decode()},
    {"Authorization": "Digest s3cret"},
])
def test_token_refused_otherwise(headers: dict[str, str]) -> None:
    """A wrong, missing or malformed credential is a 401 that says how to send the token."""
    with pytest.raises(ApiError) as caught:
        require_token(request_with(headers))
    assert caught.value.status == 401 and "netrc" in caught.value.message


def test_netrc_lines_give_the_token_for_localhost_and_the_lab_host(tmp_path: Path) -> None:
    """`faultlab token --netrc` lines, read by Python's netrc module (as requests does), yield the token."""
    path = tmp_path / "netrc"
    path.write_text("\n".join(netrc_lines("tok-123", "127.0.0.1")) + "\n")
    path.chmod(0o600)
    parsed = netrc.netrc(str(path))
    for host in ("localhost", "127.0.0.1"):
        assert parsed.authenticators(host) == ("faultlab", "", "tok-123")
    assert len(netrc_lines("t", "localhost")) == 2 and len(netrc_lines("t", "10.0.0.5")) == 3


def test_wants_json_when_asked_text_when_asked_else_the_default() -> None:
    """JSON for Accept: application/json or ?format=json, text for text/plain or OpenMetrics (Prometheus), the
    service's default for */* or nothing."""
    assert wants_json(make_mocked_request("GET", "/metrics", headers={"Accept": "application/json"}))
    assert wants_json(make_mocked_request("GET", "/metrics?format=json"))
    for default in (False, True):
        assert wants_json(make_mocked_request("GET", "/metrics", headers={"Accept": "*/*"}), default) is default
        assert wants_json(make_mocked_request("GET", "/metrics"), default) is default
        assert not wants_json(make_mocked_request("GET", "/metrics", headers={"Accept": "text/plain"}), default)
        prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        assert not wants_json(make_mocked_request("GET", "/metrics", headers={"Accept": prometheus}), default)


def test_health_body_speaks_the_guide() -> None:
    """status UP/DOWN, the guide's service name, the replica's instance id, and faultlab's fields kept."""
    body = health_body("inventory", True, 2, caught_up=True)
    assert (body["status"], body["service"], body["instance_id"], body["component"]) == \
        ("UP", "inventory-svc-2", "2", "inventory")
    assert body["caught_up"] is True and body["working"] is True
    down = health_body("orders", False)
    assert (down["status"], down["service"]) == ("DOWN", "orders-svc") and "instance_id" not in down


QUORUM_ONE: dict[str, Any] = {
    "product_id": "PROD-001", "available_quantity": 990, "reserved_quantity": 10, "position": 4, "quorum": True,
    "agreed": [1, 3], "disagreed": [2], "behind": [], "late": [], "failed": {}, "outliers": [2],
    "latency_ms": 3.6}


def test_guide_fields_of_a_voted_read() -> None:
    """A quorum read: success, the voted values in data, who voted, the outlier named, counts of answers."""
    fields = guide_fields(QUORUM_ONE, "PROD-001", 2, 3)
    assert fields["success"] is True and fields["quorum_achieved"] is True
    assert fields["data"]["available_quantity"] == 990 and fields["data"]["reserved_quantity"] == 10
    assert fields["data"]["voted_by"] == "1,3" and fields["outliers_detected"] == [2]
    assert (fields["successful_responses"], fields["failed_responses"], fields["total_time_ms"]) == (3, 0, 4)


def test_guide_fields_without_quorum_and_of_the_whole_stock() -> None:
    """No quorum: success false and no data; a whole-stock read: data.inventory with each product's values."""
    lost = guide_fields({"quorum": False, "agreed": [], "failed": {"1": "error", "2": "timeout"}, "late": [],
                         "outliers": [], "latency_ms": 401.0}, "PROD-001", 2, 3)
    assert lost["success"] is False and "data" not in lost and lost["failed_responses"] == 2
    assert lost["successful_responses"] == 1 and lost["outliers_detected"] is None
    every = guide_fields({"quorum": True, "agreed": [1, 2, 3], "failed": {}, "late": [], "outliers": [],
                          "latency_ms": 2.0, "inventory": [{"product_id": "PROD-002", "available_quantity": 500,
                                                            "reserved_quantity": 0, "position": 0}]}, None, 2, 3)
    assert every["data"]["inventory"] == [{"product_id": "PROD-002", "available_quantity": 500,
                                           "reserved_quantity": 0}]


def test_voting_stats_block() -> None:
    """The guide's voting_stats from faultlab's counters and latency summary."""
    block = voting_stats({"total_votes": 7, "quorum_reached": 6, "quorum_not_reached": 1,
                          "latency_ms": {"avg": 2.5, "max": 9.0}}, 1.25)
    assert block == {"total_requests": 7, "avg_response_time": 2.5, "max_response_time": 9.0,
                     "min_response_time": 1.25, "quorum_reached": 6, "quorum_not_reached": 1}


def test_failure_row_carries_the_guide_fields() -> None:
    """An episode gets service_name, instance_id "N", failure_type (incorrect_response for incorrect), resolved_at."""
    row = failure_row({"replica": 3, "fault_kind": "incorrect", "activated_at": 10.0, "detected_at": 10.1,
                       "recovered_at": 12.0})
    assert (row["service_name"], row["instance_id"], row["failure_type"], row["resolved_at"]) == \
        ("inventory-svc", "3", "incorrect_response", 12.0)
    assert failure_row({"replica": 1, "fault_kind": None})["failure_type"] == "unannounced"


def test_summary_counts_services_instances_failures_and_requests() -> None:
    """The dashboard's /api/summary from literal answers: one service down, one instance OFF, a day of failures."""
    now = 100_000.0
    health = {"orders-svc": {"status": "UP"}, "voter-svc": {"status": "DOWN"}}
    instances = [{"status": "ON"}, {"status": "OFF"}, {"status": "ON"}]
    failures = [{"activated_at": now - 60}, {"activated_at": None, "detected_at": now - 7200},
                {"activated_at": now - 90_000}]
    metrics = [{"request_count": 3, "avg_latency": 2.0}, {"request_count": 1, "avg_latency": 6.0}]
    s = summary(health, instances, failures, metrics, {"latency_ms": {"p95": 4.5}}, now)
    assert s["services"] == {"total": 2, "healthy": 1, "unhealthy": 1, "health_percentage": 50.0}
    assert s["instances"] == {"total": 3, "active": 2, "inactive": 1, "availability_percentage": 66.67}
    assert s["failures"] == {"total_24h": 2, "recent_1h": 1}
    assert s["performance"]["avg_latency_ms"] == 3.0 and s["performance"]["total_requests_1h"] == 4
    assert s["performance"]["max_p95_latency_ms"] == 4.5


@pytest.mark.parametrize("body, action", [
    ({"type": "clear"}, "clear"), ({"failure_type": "clear"}, "clear"), ({"kind": "none", "type": "clear"}, "clear"),
    ({"type": "incorrect_response"}, "incorrect"), ({"type": "latency", "failure_type": "delay"}, "latency"),
    ({"latency_ms": 5}, None),
])
def test_action_of_names(body: dict[str, Any], action: str | None) -> None:
    """type, failure_type and kind name the action (aliases resolved); none named gives None."""
    assert action_of(body) == action


@pytest.mark.parametrize("body", [{"type": "clear", "failure_type": "latency"}, {"type": 7}])
def test_action_of_refuses_disagreeing_or_odd_names(body: dict[str, Any]) -> None:
    """Names that disagree, or a name that is not a string, are a 400."""
    with pytest.raises(ApiError) as caught:
        action_of(body)
    assert caught.value.status == 400
