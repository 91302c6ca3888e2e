"""The guide's questions and scenarios answered from literal report.json documents: this run's numbers, the guide's
expectation beside them, why they differ, and a missing field named instead of a number made up."""

from __future__ import annotations

import copy
from typing import Any

from faultlab.lab.guide_answers import guide_answers
from faultlab.lab.report import build_report
from tests.unit.test_report import T0, experiment_data, full_results


def by_id(report: dict[str, Any], lang: str = "en") -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in guide_answers(report, lang)}


def two_down_report() -> dict[str, Any]:
    """One repetition of two-down: stopped at T0+2, quorum lost 48 ms later, 60 of 100 reads answered 503, the
    first replica started again at T0+4.5 and quorum back at T0+4.62; orders all accepted meanwhile."""
    results = [r for r in full_results(1) if r["phase"] in ("baseline", "two-down")]
    down = results[1]
    down["injected_at"] = T0 + 2
    down["quorum"] = {"reads": 100, "no_quorum_reads": 60, "lost": True, "lost_at": T0 + 2.048, "regained": True,
                      "regained_at": T0 + 4.62}
    down["during_fault"] = {"by_kind": {"order": {"requests": 40, "success_rate": 100.0}}}
    data = experiment_data(results)
    data["timeline"] = [{"at": T0 + 2, "event": "process_stopped", "replica": 1},
                        {"at": T0 + 4.6, "event": "process_started", "replica": 2},
                        {"at": T0 + 4.5, "event": "process_started", "replica": 1}]
    return build_report(data, {"replicas": 3}, "two-down")


def test_two_of_three_down_gives_loss_share_of_503_and_regain_from_the_report() -> None:
    """Question 13: quorum lost 48 ms after the stop, 60 % of reads answered 503, regained 120 ms after the first
    replica was started again, orders still accepted; the guide's "manual intervention" beside it, and why not."""
    answer = by_id(two_down_report())["q13"]
    [line] = [m for m in answer["measured"] if m.startswith("Repetition 1:")]
    assert "quorum lost 48 ms after the replicas began to be stopped" in line
    assert '60 of 100 voted reads (60.0 %) answered 503 "quorum not reached"' in line
    assert "regained 120 ms after the first replica was started again" in line
    assert "orders accepted meanwhile: 100.00 %" in line
    assert "manual intervention" in answer["expected"]
    assert any("supervisor starts the stopped replicas again" in w for w in answer["why"])
    assert ("the two-down phase", "phase-two-down") in answer["links"]


def test_spanish_answers_ask_the_guides_own_questions() -> None:
    """In Spanish each answer is titled with the guide's words ("Pregunta 13", "¿Qué pasa si 2 de 3 instancias
    fallan?", "Escenario 2") and its figures use decimal commas."""
    answers = by_id(two_down_report(), "es")
    assert (answers["q13"]["title"], answers["q13"]["question"]) == ("Pregunta 13",
                                                                     "¿Qué pasa si 2 de 3 instancias fallan?")
    assert answers["q10"]["question"] == "¿Cómo se mide el TTD?"
    assert answers["s2"]["title"] == "Escenario 2" and answers["s2"]["question"].startswith("Fallo de dos instancias")
    assert any("(60,0 %)" in m and "quórum perdido 48 ms después de empezar" in m for m in answers["q13"]["measured"])


def test_a_field_the_report_lacks_is_named_not_invented() -> None:
    """A report without `voting`, `load_total` or `results[].quorum` says which field it lacks; no figure appears."""
    report = two_down_report()
    for key in ("voting", "load_total"):
        del report[key]
    for r in report["results"]:
        r.pop("quorum", None)
    answers = by_id(report)
    assert answers["q6"]["missing"] == ["voting"] and answers["q12"]["missing"] == ["load_total"]
    assert any("This report has no `load_total` field" in m for m in answers["q12"]["measured"])
    assert not any("p95" in m for m in answers["q12"]["measured"])
    assert "results[].quorum" in answers["q13"]["missing"]
    assert not any("503" in m for m in answers["q13"]["measured"])


def test_answers_read_reports_with_fields_and_phases_they_do_not_know() -> None:
    """New fields and phases (a later runner's `stale`, a read-history check) are passed over, and a new phase gets
    a row with "not in the guide" as its expectation."""
    report = build_report(experiment_data(full_results(1)), {}, "r")
    report = copy.deepcopy(report)
    report["read_history"] = {"valid": True}
    report["phases"]["stale"] = copy.deepcopy(report["phases"]["latency"])
    rows = {row["phase"]: row for row in by_id(report)["phases"]["rows"]}
    assert rows["stale"]["expected_ttd"] == "not in the guide"
    assert rows["latency"]["expected_ttd"] == "~600 ms" and rows["latency"]["ttd"].startswith("410 ms")


def test_each_scenario_sets_the_guides_expectation_beside_the_measured_value_and_says_why() -> None:
    """Scenario 3 (intermittent 30 %): the guide's ~70 % success and variable TTD beside this run's TTD; a TTD over
    the guide's 600 ms is explained by chance, a crash's lower one by the supervisor's event."""
    results = full_results(3)
    for r in results:
        if r["phase"] == "crash":
            r["detected_by"] = ["supervisor: process exited"]
    report = build_report(experiment_data(results), {}, "r")
    answers = by_id(report)
    s3 = answers["s3"]
    assert "~70 %" in s3["expected"] and s3["rows"][0]["ttd"] == "1,200 ms [600–1,800], median of 3"
    assert any("masks the failing one" in w for w in s3["why"])
    assert any("three failures in a row are rare" in w for w in s3["why"])
    crash = answers["s1"]["rows"][0]
    assert crash["expected_ttd"] == "~600 ms" and crash["ttd"].startswith("4 ms")
    assert "supervisor sees the process exit at once" in crash["why"]
    assert crash["expected_ttr"] == "needs a manual restart"


def test_an_undetected_fault_is_called_a_miss() -> None:
    """A phase whose fault went undetected in a repetition says so in its row, not a median of the others alone."""
    results = full_results(3)
    for r in results:
        if r["phase"] == "latency" and r["repetition"] == 2:
            r["ttd_ms"] = None
    rows = {row["phase"]: row for row in by_id(build_report(experiment_data(results), {}, "r"))
            ["phases"]["rows"]}
    assert "1 repetition without a value" in rows["latency"]["ttd"]
    assert "not detected in at least one repetition" in rows["latency"]["why"]
