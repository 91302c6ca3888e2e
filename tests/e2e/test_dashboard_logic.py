"""The dashboard's pure logic: Prometheus parsing, histogram percentiles and rates, card states, the runs folder."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.core.web import BUCKETS_MS, PROBE_HEADER, ApiError, RequestMetrics, create_app
from faultlab.lab.dashboard.cards import card_status, instance_card
from faultlab.lab.dashboard.collector import SERIES
from faultlab.lab.dashboard.metrics import (
    Counts,
    Selector,
    extract,
    histogram_quantile,
    parse_prometheus,
    window_stats,
)
from faultlab.lab.dashboard.reports import RunsFolder
from faultlab.lab.report import build_report

VOTED = Selector("GET", frozenset({"/inventory/voted", "/inventory/voted/{product_id}"}))


def exposition(observations: list[tuple[str, str, int, float]]) -> str:
    """What a service's GET /metrics says after these (method, route, status, latency ms) requests."""
    metrics = RequestMetrics("voter")
    for method, route, status, latency in observations:
        metrics.observe(method, route, status, latency)
    return metrics.prometheus()


def test_extract_sums_the_selected_routes_and_splits_outcomes() -> None:
    """Voted reads of one product and of all count together; other routes and methods are left out."""
    text = exposition([("GET", "/inventory/voted/{product_id}", 200, 3.0)] * 5
                      + [("GET", "/inventory/voted", 503, 40.0)] * 2
                      + [("GET", "/voting/stats", 200, 1.0)] * 7 + [("POST", "/inventory/voted", 200, 1.0)])
    counts = extract(parse_prometheus(text), VOTED)
    assert (counts.ok, counts.failed, counts.total) == (5, 2, 7)
    assert counts.buckets[float("inf")] == 7
    assert counts.buckets[5.0] == 5 and counts.buckets[2.0] == 0 and counts.buckets[50.0] == 7


def test_parse_undoes_escapes_and_stops_at_a_malformed_line() -> None:
    """Samples with their labels unescaped (prometheus_client's parser); a malformed line ends the parse, keeping
    what came before it instead of failing the dashboard's poll."""
    samples = parse_prometheus('# HELP x a comment\nx{a="1",b="q\\"uote"} 3\nplain 4\nbroken{a="1"} notanumber\n'
                               'after 5\n')
    assert samples == [("x", {"a": "1", "b": 'q"uote'}, 3.0), ("plain", {}, 4.0)]


def test_histogram_quantile_interpolates_inside_a_bucket() -> None:
    """100 observations, 50 at <= 10 ms and 50 in (10, 20]: p50 is 10 ms, p75 is 15 ms, p100 is 20 ms."""
    buckets = [(10.0, 50.0), (20.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(10.0)
    assert histogram_quantile(0.75, buckets) == pytest.approx(15.0)
    assert histogram_quantile(1.0, buckets) == pytest.approx(20.0)
    assert histogram_quantile(0.5, []) is None and histogram_quantile(0.5, [(10.0, 0.0)]) is None
    # beyond the largest finite bound the answer is that bound (a lower bound on the truth)
    assert histogram_quantile(0.99, [(10.0, 1.0), (float("inf"), 100.0)]) == 10.0


def test_window_stats_are_deltas_per_second() -> None:
    """Two scrapes 2 s apart: 200 new requests is 100 req/s; percentiles come from the new requests only."""
    before = exposition([("GET", "/inventory/voted", 200, 400.0)] * 1000)
    after = exposition([("GET", "/inventory/voted", 200, 400.0)] * 1000 + [("GET", "/inventory/voted", 200, 3.0)] * 190
                       + [("GET", "/inventory/voted", 503, 3.0)] * 10)
    stats = window_stats(extract(parse_prometheus(before), VOTED), extract(parse_prometheus(after), VOTED), 2.0)
    assert stats["rps"] == 100.0 and stats["failed_per_s"] == 5.0 and stats["success_rate"] == 95.0
    assert 2.0 < stats["p50"] <= 5.0 and stats["p99"] <= 5.0  # the old 400 ms requests are not in the window
    idle = window_stats(extract(parse_prometheus(after), VOTED), extract(parse_prometheus(after), VOTED), 1.0)
    assert idle == {"rps": 0.0, "failed_per_s": 0.0, "success_rate": None, "p50": None, "p95": None, "p99": None}
    with pytest.raises(ValueError):
        window_stats(Counts(), Counts(), 0)


def test_window_stats_after_a_service_restart_use_the_new_counters() -> None:
    """Counters that went down mean the service restarted: the new scrape alone is the window's traffic."""
    old = extract(parse_prometheus(exposition([("GET", "/inventory/voted", 200, 3.0)] * 500)), VOTED)
    new = extract(parse_prometheus(exposition([("GET", "/inventory/voted", 200, 30.0)] * 20)), VOTED)
    stats = window_stats(old, new, 1.0)
    assert stats["rps"] == 20.0 and stats["success_rate"] == 100.0 and 25.0 < stats["p50"] <= 50.0


def test_buckets_used_by_the_services_are_the_ones_parsed() -> None:
    """Every bucket bound the services export is read back."""
    counts = extract(parse_prometheus(exposition([("GET", "/inventory/voted", 200, 1.0)])), VOTED)
    assert sorted(b for b in counts.buckets if b != float("inf")) == [float(b) for b in BUCKETS_MS]


@pytest.mark.parametrize(("instance", "expected"), [
    ({"status": "ON", "caught_up": True, "value_suspect": False, "shadow_status": {"a": "ON"}}, "ON"),
    ({"status": "ON", "caught_up": True, "value_suspect": True}, "SUSPECT"),
    ({"status": "ON", "caught_up": False}, "SUSPECT"),
    ({"status": "ON", "caught_up": True, "shadow_status": {"a": "ON", "b": "OFF"}}, "ON"),
    ({"status": "OFF", "caught_up": True}, "OFF"),
    ({"status": "UNKNOWN"}, "UNKNOWN"),
    ({}, "UNKNOWN"),
])
def test_card_status(instance: dict[str, object], expected: str) -> None:
    """SUSPECT is ON with evidence against it (wrong values, behind the log); a shadow detector's OFF is not."""
    assert card_status(instance) == expected


def test_recent_wrong_answers_make_an_on_card_suspect() -> None:
    """The voter counting wrong answers from an ON replica (an incorrect fault on one product) shows SUSPECT."""
    on = {"status": "ON", "caught_up": True, "value_suspect": False}
    assert card_status(on, recent_wrong=2) == "SUSPECT" and card_status(on, recent_wrong=0) == "ON"
    assert card_status({"status": "OFF"}, recent_wrong=2) == "OFF"


def test_instance_card_shows_position_and_active_fault() -> None:
    """The card carries the replica's applied position, lag and active faults from its last health answer."""
    card = instance_card({"replica": 2, "status": "ON", "caught_up": True, "last_check": 5.0,
                          "health": {"applied_seq": 41, "offset": 40, "log_end": 42, "lag": 1, "faults": ["latency"], "pid": 9},
                          "open_episode": {"fault_kind": "latency"}, "shadow_status": {"a": "OFF", "b": "ON"}})
    assert card["shadow_off"] == ["a"]
    assert card["applied_seq"] == 41 and card["offset"] == 40 and card["log_end"] == 42 and card["lag"] == 1
    assert card["faults"] == ["latency"]
    assert card["open_fault"] == "latency" and card["status"] == "ON" and card["last_check"] == 5.0


def make_run(root: Path, name: str, text: str | None = None, start_ts: float = 100.0) -> Path:
    """A run folder with report.json (`text`, else a run's report that started at `start_ts`) and report.html."""
    from tests.unit.test_report import experiment_data, full_results

    run = root / name
    run.mkdir(parents=True)
    if text is None:
        data = {**experiment_data(full_results(1)), "started_at": start_ts, "ended_at": start_ts + 120}
        text = json.dumps(build_report(data, {}, name).document())
    (run / "report.json").write_text(text)
    (run / "report.html").write_text("<p>charts</p>")
    return run


def test_runs_folder_lists_newest_first_and_follows_latest(tmp_path: Path) -> None:
    """Runs sort by start time, `latest` names the linked run, a broken report.json — or one that is not a faultlab
    report — is listed with its problem."""
    make_run(tmp_path, "20260101T000000Z", start_ts=100.0)
    make_run(tmp_path, "20260102T000000Z", start_ts=200.0)
    make_run(tmp_path, "20250101T000000Z", "{not json")
    make_run(tmp_path, "20240101T000000Z", json.dumps({"results": []}))
    os.utime(tmp_path / "20250101T000000Z", (50.0, 50.0))
    os.utime(tmp_path / "20240101T000000Z", (40.0, 40.0))
    (tmp_path / "latest").symlink_to("20260101T000000Z")
    (tmp_path / "not-a-run").mkdir()
    runs = RunsFolder(tmp_path)
    listed = runs.list()
    assert [r["name"] for r in listed] == ["20260102T000000Z", "20260101T000000Z", "20250101T000000Z",
                                           "20240101T000000Z"]
    assert [r["latest"] for r in listed] == [False, True, False, False]
    assert listed[2]["problem"].startswith("unreadable report.json")
    assert listed[3]["problem"].startswith("report.json is not a faultlab report: schema_version: is required; "
                                          "experiment_info: is required")
    assert listed[0]["phases"] == ["baseline", "crash", "latency", "intermittent", "incorrect", "two-down"]
    assert listed[0]["summary"]["total_tests"] == 6 and listed[0]["valid"] is True
    assert runs.detail("latest")["name"] == "20260101T000000Z"
    assert runs.file("latest", "report.html").read_text() == "<p>charts</p>"


@pytest.mark.parametrize("name", ["..", "../etc", ".hidden", "a/b", "", "latest2/../x", "x" * 200])
def test_runs_folder_refuses_names_outside_it(tmp_path: Path, name: str) -> None:
    """Path tricks get a 400 or 404, never a file outside the runs folder."""
    with pytest.raises(ApiError) as caught:
        RunsFolder(tmp_path).file(name, "report.html")
    assert caught.value.status in (400, 404)


def test_runs_folder_serves_only_the_two_report_files(tmp_path: Path) -> None:
    """Logs and events in a run folder are not served; a missing folder lists nothing."""
    make_run(tmp_path, "r1")
    (tmp_path / "r1" / "events.jsonl").write_text("{}")
    with pytest.raises(ApiError):
        RunsFolder(tmp_path).file("r1", "events.jsonl")
    (tmp_path / "outside").symlink_to(tmp_path / "r1")
    with pytest.raises(ApiError):
        RunsFolder(tmp_path).run_dir("outside")  # symlinked folders (other than latest) are not followed
    assert RunsFolder(tmp_path / "missing").list() == []


async def test_the_labs_own_probes_are_counted_apart_from_the_load(tmp_path: Path) -> None:
    """The monitor's value-audit reads carry the probe header: the voter counts them under their own label, so
    the dashboard's voted-read series shows the load's requests only."""
    settings = Settings(home=tmp_path, admin_token="t" * 32)
    app = create_app(settings, "voter", get_logger("voter", stream=io.StringIO()))

    async def voted(_request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/inventory/voted", voted)
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            assert (await client.get("/inventory/voted")).status == 200
        for _ in range(5):
            assert (await client.get("/inventory/voted", headers={PROBE_HEADER: "value-audit"})).status == 200
        text = await (await client.get("/metrics")).text()
    _service, selector = SERIES["voted"]
    assert extract(parse_prometheus(text), selector).total == 3
    probes = [v for name, labels, v in parse_prometheus(text)
              if name == "faultlab_requests_total" and labels["endpoint"] == "/inventory/voted (probe)"]
    assert probes == [5.0]
