"""check_via_api against literal systems (an ApiReader answering from tables): what it reads, how it composes the
checks, what it says is not checkable, and how the report, report.html and the console show each finding in Spanish
and English."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from rich.console import Console

from faultlab.cli.report import print_findings, print_summary
from faultlab.core import i18n
from faultlab.core.said import CODES, render
from faultlab.lab.api_checkers import FaultWindow, Stock, ValueSample
from faultlab.lab.api_checks import check_via_api, orders_to_follow, windows_of
from faultlab.lab.load_model import LoadResult, ReadRecord, WriteRecord
from faultlab.lab.report import build_report, validate
from faultlab.lab.report_html import render_body
from faultlab.lab.report_model import DataCheck, Report
from tests.helpers import flat
from tests.unit.test_report import experiment_data, full_results

pytestmark = pytest.mark.timeout(30)
P = "PROD-001"
FAST = {"settle_s": 0.0, "interval_s": 0.01, "timeout_s": 1.0}


class LiteralSystem:
    """A system as tables: each replica's stock on its 1st, 2nd, … read (the last repeats), each order's status
    (an exception is raised as the reader would)."""

    def __init__(self, rounds: Sequence[Mapping[int, Any]], statuses: Mapping[str, Any] | None = None) -> None:
        self.replica_ids = sorted(rounds[0])
        self.rounds = rounds
        self.statuses = statuses or {}
        self.has_order_status = statuses is not None
        self.reads: dict[Any, int] = defaultdict(int)

    async def replica_stock(self, replica: int) -> Mapping[str, Stock] | None:
        answer = self.rounds[min(self.reads[replica], len(self.rounds) - 1)][replica]
        self.reads[replica] += 1
        if isinstance(answer, Exception):
            raise answer
        return None if answer is None else dict(answer)

    async def order_status(self, order_id: str) -> str | None:
        answers = self.statuses[order_id]
        answer = answers[min(self.reads[order_id], len(answers) - 1)] if isinstance(answers, list) else answers
        self.reads[order_id] += 1
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


def history(reads: Sequence[ReadRecord] = ()) -> LoadResult:
    """Two orders of P (2 and 3 units), the second cancelled; the load's voted reads."""
    result = LoadResult("mix", 10, 5)
    result.writes = [WriteRecord("order", "ok", P, 2, 1.0, 1.01, "o1", 201),
                     WriteRecord("order", "ok", P, 3, 2.0, 2.01, "o2", 201),
                     WriteRecord("cancel", "ok", P, 3, 3.0, 3.01, "o2", 200)]
    result.accepted_order_ids = ["o1", "o2"]
    result.reads = list(reads)
    return result


INITIAL = {P: (10, 0)}
RIGHT = {P: Stock(8, 2)}
READS = [ReadRecord("load", P, 200, 11.0, 11.01, 4, 8, 2), ReadRecord("load", P, 200, 12.0, 12.01, 5, 8, 2)]


async def test_a_correct_system_passes_every_check_after_its_replicas_catch_up() -> None:
    """Replica 3 behind on the first read, equal on the second; o1 PENDING, then CONFIRMED; the incorrect fault masked.
    Every check valid, none left out."""
    system = LiteralSystem([{1: RIGHT, 2: RIGHT, 3: {P: Stock(10, 0)}}, {1: RIGHT, 2: RIGHT, 3: RIGHT}],
                           {"o1": ["PENDING", "CONFIRMED"]})
    samples = [ValueSample(r, P, 10.5 + i * 0.02, 8 + 100 * (r == 1), 2) for r in (1, 2, 3) for i in range(100)]
    windows = [{"kind": "incorrect", "replicas": [1], "params": {"product_id": P}, "injected_at": 10.0,
                "cleared_at": 13.0}]
    v = await check_via_api(system, history(READS), windows, INITIAL, samples=samples, **FAST)
    assert {name: c["valid"] for name, c in v["checks"].items()} == {
        "replicas_converged": True, "orders_leave_pending": True, "stock_conserved": True,
        "reserved_matches_orders": True, "incorrect_masked": True, "monotonic_reads": True}
    assert v["valid"] is True and v["not_checkable"] == [] and v["checked_through"] == "api"
    assert v["checks"]["replicas_converged"]["rounds"] == 2 and system.reads["o1"] == 2
    assert (v["accepted_orders"], v["reads_checked"]) == (2, 2)
    DataCheck.model_validate(json.loads(json.dumps(v)))  # the report's model takes it, as JSON


async def test_a_system_lacking_order_status_positions_and_reserved_is_judged_on_the_rest() -> None:
    """No GET /orders/{id}, no position in the voter's answers, no reserved field: those checks are not checkable,
    listed and left out of the verdict, which the convergence check alone decides."""
    bare = {P: Stock(8, None)}
    reads = [ReadRecord("load", P, 200, 11.0, 11.01, None, 8, None)]
    v = await check_via_api(LiteralSystem([{1: bare, 2: bare, 3: bare}]), history(reads), [], INITIAL, **FAST)
    assert v["not_checkable"] == ["orders_leave_pending", "stock_conserved", "reserved_matches_orders",
                                  "monotonic_reads"]
    assert v["valid"] is True and v["checks"]["replicas_converged"]["valid"] is True
    assert v["checks"]["orders_leave_pending"]["why"]["text"] == ("the system has no GET /orders/{id}: whether orders leave "
                                                          "PENDING cannot be checked")


async def test_three_replicas_sharing_one_table_fail_the_check_with_the_cause_named() -> None:
    """The shared table: o1's 2 units reserved three times; the verdict is false and says why."""
    shared = {P: Stock(4, 6)}
    system = LiteralSystem([{1: shared, 2: shared, 3: shared}], {"o1": "CONFIRMED"})
    v = await check_via_api(system, history(), [], {P: (10, 0)}, **FAST)
    assert v["valid"] is False
    assert flat(v["checks"]["reserved_matches_orders"]["finding"]) == {"code": "shared_table", "factor": 3, "count": 1}


async def test_a_replica_answering_garbage_or_nothing_is_silent_and_a_lost_order_is_found() -> None:
    """A reader that raises (garbage answer) counts as no answer: convergence unknown; an accepted order the system
    says it does not have is lost (a LookupError from the reader)."""
    system = LiteralSystem([{1: RIGHT, 2: KeyError("inventory"), 3: None}], {"o1": KeyError("o1")})
    v = await check_via_api(system, history(), [], INITIAL, **FAST)
    assert v["checks"]["replicas_converged"]["valid"] == "unknown"
    assert flat(v["checks"]["replicas_converged"]["finding"]) == {"code": "replicas_silent", "replicas": [2, 3]}
    assert v["checks"]["orders_leave_pending"]["finding"]["code"] == "orders_not_found"
    assert v["valid"] is False


async def test_without_a_load_history_the_order_and_stock_checks_are_not_checkable() -> None:
    """No history: only convergence is judged."""
    v = await check_via_api(LiteralSystem([{1: RIGHT, 2: RIGHT}], {}), None, [], None, **FAST)
    assert v["valid"] is True and set(v["not_checkable"]) == {"orders_leave_pending", "stock_conserved",
                                                              "reserved_matches_orders"}


def test_fault_windows_from_the_runners_records_or_per_replica_ones() -> None:
    """A phase's fault record gives one window per replica; per-replica records and windows pass as they are."""
    windows = windows_of([{"kind": "stop", "replicas": [1, 2], "params": {}, "injected_at": 5.0, "cleared_at": 9.0},
                          {"kind": "incorrect", "replica": 3, "activated_at": 1.0, "cleared_at": None},
                          FaultWindow("hang", 2, 3.0, 4.0)])
    assert windows == [FaultWindow("stop", 1, 5.0, 9.0), FaultWindow("stop", 2, 5.0, 9.0),
                       FaultWindow("incorrect", 3, 1.0, None), FaultWindow("hang", 2, 3.0, 4.0)]


def test_the_orders_followed_are_the_accepted_not_cancelled_ones_newest_always_in() -> None:
    """Cancelled orders are not followed (a system may delete them); above the limit, the newest and a sample."""
    writes = [WriteRecord("order", "ok", P, 1, float(i), i + 0.01, f"o{i}", 201) for i in range(100)]
    writes.append(WriteRecord("cancel", "info", P, 1, 200.0, 200.01, "o5", None))
    ids, every = orders_to_follow(writes, 1000)
    assert every and len(ids) == 99 and "o5" not in ids
    ids, every = orders_to_follow(writes, 20)
    assert not every and len(ids) == 20 and {"o99", "o98", "o97", "o96"} <= set(ids)


# ---- what the reader sees -------------------------------------------------------------------------------------------


async def literal_verdicts() -> list[dict[str, Any]]:
    """Verdicts with every finding code the checks produce in these tests."""
    out = []
    for system, hist, initial in (
            (LiteralSystem([{1: RIGHT, 2: RIGHT}], {"o1": "PENDING"}), history(READS), INITIAL),
            (LiteralSystem([{1: {P: Stock(4, 6)}, 2: {P: Stock(3, 6)}}], {"o1": KeyError("o1")}), history(), INITIAL),
            (LiteralSystem([{1: {P: Stock(8, None)}, 2: None}]), history([dataclasses.replace(READS[0], position=None)]),
             None)):
        out.append(await check_via_api(system, hist, [], initial, **{**FAST, "timeout_s": 0.1}))
    return out


async def test_every_finding_reads_whole_in_spanish_and_english() -> None:
    """Each finding the checks record says itself in both languages, every parameter filled, no English left in the
    Spanish."""
    found = [f for v in await literal_verdicts() for c in v["checks"].values()
             for f in [c["finding"], *c.get("findings", [])]]
    assert len({f["code"] for f in found}) >= 8
    for f in found:
        english, spanish = render(f, "en"), render(f, "es")
        for text in (english, spanish):
            assert not re.search(r"\{[a-z_]+\}", text.replace("/orders/{id}", "")), text
        if f["code"] not in ("order_state",):
            assert english != spanish, english
    assert all(code in CODES for code in {f["code"] for f in found})
    assert all(f["text"] == render(f, "en") for f in found)  # the English, for people reading report.json


def _report_with(data_check: dict[str, Any]) -> Report:
    data = experiment_data(full_results(1))
    data["data_check"] = copy.deepcopy(data_check)
    return build_report(data, {}, "api-run")


async def test_the_report_validates_and_shows_each_finding_in_the_readers_language() -> None:
    """report.json takes the API checks; report.html says each finding and why it matters in the page's language,
    marks a not-checkable check as such, and keeps the counts as data."""
    verdicts = await literal_verdicts()
    report = _report_with(verdicts[1])
    validate(report)
    spanish, english = str(render_body(report, "es")), str(render_body(report, "en"))
    assert "probablemente 3 réplicas reservando en una tabla compartida" in spanish
    assert "likely 3 replicas reserving in one shared table" in english
    assert "El stock reservado debe ser exactamente" in spanish
    assert "verificado a través de la API del sistema" in spanish
    assert "likely 3 replicas" not in spanish and "probablemente" not in english
    bare = _report_with(verdicts[2])
    page = str(render_body(bare, "es"))
    assert "no verificable" in page and "No verificables con las respuestas de este sistema" in page
    assert "las respuestas del votador no traen posición" in page


async def test_the_console_prints_each_finding_in_the_active_language() -> None:
    """`faultlab experiment`'s summary: the data check through the API, each check with its verdict, its finding and
    the first others, and what was not checkable."""
    verdicts = await literal_verdicts()
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    i18n.activate("es")
    try:
        print_findings(console, DataCheck.model_validate(verdicts[1]).checks)
        print_summary(console, _report_with(verdicts[2]))
    finally:
        i18n.activate("en")
    text = out.getvalue()
    assert "reserved_matches_orders: FALLA — cada orden se reserva 3 veces" in text
    assert "replicas_converged: FALLA" in text and "· PROD-001: disponible/reservado por réplica 1: 4/6, 2: 3/6" in text
    assert "verificación de datos: desconocida (2 órdenes aceptadas, 1 lectura votada; verificado a través" in text
    assert "no verificables con las respuestas de este sistema, por eso no se juzgan: orders_leave_pending" in text
    assert "monotonic_reads: no verificable — las respuestas del votador no traen posición" in text
