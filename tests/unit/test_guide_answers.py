"""The guide's questions and scenarios answered from literal report.json documents: this run's numbers, the guide's
expectation beside them, why they differ, and a missing field named instead of a number made up."""

from __future__ import annotations

from faultlab.lab.guide_answers import guide_answers
from faultlab.lab.guide_render import Answer
from faultlab.lab.report import build_report, load_report
from faultlab.lab.report_model import Report
from faultlab.lab.systems.base import MISSING
from tests.unit.test_report import ROOT, T0, experiment_data, full_results, load_result


def by_id(report: Report, lang: str = "en") -> dict[str, Answer]:
    return {a.id: a for a in guide_answers(report, lang)}


def two_down_report() -> Report:
    """One repetition of two-down: stopped at T0+2, quorum lost 48 ms later, 60 of 100 reads answered 503, the
    first replica started again at T0+4.5 and quorum back at T0+4.62; orders all accepted meanwhile."""
    results = [r for r in full_results(1) if r["phase"] in ("baseline", "two-down")]
    down = results[1]
    down["injected_at"] = T0 + 2
    down["quorum"] = {"reads": 100, "no_quorum_reads": 60, "lost": True, "lost_at": T0 + 2.048, "regained": True,
                      "regained_at": T0 + 4.62}
    down["during_fault"] = {**load_result(30.0, 50.0), "by_kind": {"order": {"requests": 40, "success_rate": 100.0}}}
    data = experiment_data(results)
    data["timeline"] = [{"at": T0 + 2, "event": "process_stopped", "replica": 1},
                        {"at": T0 + 4.6, "event": "process_started", "replica": 2},
                        {"at": T0 + 4.5, "event": "process_started", "replica": 1}]
    return build_report(data, {"replicas": 3}, "two-down")


def test_two_of_three_down_gives_loss_share_of_503_and_regain_from_the_report() -> None:
    """Question 13: quorum lost 48 ms after the stop, 60 % of reads answered 503, regained 120 ms after the first
    replica was started again, orders still accepted; the guide's "manual intervention" beside it, and why not."""
    answer = by_id(two_down_report())["q13"]
    [line] = [m for m in answer.measured if m.startswith("Repetition 1:")]
    assert "quorum lost 48 ms after the replicas began to be stopped" in line
    assert '60 of 100 voted reads (60.0 %) answered 503 "quorum not reached"' in line
    assert "regained 120 ms after the first replica was started again" in line
    assert "orders accepted meanwhile: 100.00 %" in line
    assert "manual intervention" in answer.expected
    assert any("supervisor starts the stopped replicas again" in w for w in answer.why)
    assert ("the two-down phase", "phase-two-down") in answer.links


def test_spanish_answers_ask_the_guides_own_questions() -> None:
    """In Spanish each answer is titled with the guide's words ("Pregunta 13", "¿Qué pasa si 2 de 3 instancias
    fallan?", "Escenario 2") and its figures use decimal commas."""
    answers = by_id(two_down_report(), "es")
    assert (answers["q13"].title, answers["q13"].question) == ("Pregunta 13", "¿Qué pasa si 2 de 3 instancias fallan?")
    assert answers["q10"].question == "¿Cómo se mide el TTD?"
    assert answers["s2"].title == "Escenario 2" and answers["s2"].question.startswith("Fallo de dos instancias")
    assert any("(60,0 %)" in m and "quórum perdido 48 ms después de empezar" in m for m in answers["q13"].measured)


def test_a_field_the_report_lacks_is_named_not_invented() -> None:
    """A report.json without `voting`, `load_total` or `results[].quorum` (an older run's) says which field it lacks;
    no figure appears."""
    document = two_down_report().document()
    for key in ("voting", "load_total"):
        del document[key]
    for r in document["results"]:
        r.pop("quorum", None)
    answers = by_id(Report.model_validate(document))
    assert answers["q6"].missing == ["voting"] and answers["q12"].missing == ["load_total"]
    assert any("This report has no `load_total` field" in m for m in answers["q12"].measured)
    assert not any("p95" in m for m in answers["q12"].measured)
    assert "results[].quorum" in answers["q13"].missing
    assert not any("503" in m for m in answers["q13"].measured)


def test_answers_read_reports_with_fields_and_phases_they_do_not_know() -> None:
    """New fields and phases (a later runner's `stale`, a read-history check) are passed over, and a new phase gets
    a row with "not in the guide" as its expectation."""
    document = build_report(experiment_data(full_results(1)), {}, "r").document()
    document["read_history"] = {"valid": True}
    document["phases"]["stale"] = document["phases"]["latency"]
    rows = {row["phase"]: row for row in by_id(Report.model_validate(document))["phases"].rows}
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
    assert "~70 %" in s3.expected and s3.rows[0]["ttd"] == "1,200 ms [600–1,800], median of 3"
    assert any("masks the failing one" in w for w in s3.why)
    assert any("three failures in a row are rare" in w for w in s3.why)
    crash = answers["s1"].rows[0]
    assert crash["expected_ttd"] == "~600 ms" and crash["ttd"].startswith("4 ms")
    assert "supervisor sees the process exit at once" in crash["why"]
    assert crash["expected_ttr"] == "needs a manual restart"


def test_an_undetected_fault_is_called_a_miss() -> None:
    """A phase whose fault went undetected in a repetition says so in its row, not a median of the others alone."""
    results = full_results(3)
    for r in results:
        if r["phase"] == "latency" and r["repetition"] == 2:
            r["ttd_ms"] = None
    rows = {row["phase"]: row for row in by_id(build_report(experiment_data(results), {}, "r"))["phases"].rows}
    assert "1 repetition without a value" in rows["latency"]["ttd"]
    assert "not detected in at least one repetition" in rows["latency"]["why"]


def stored_report() -> Report:
    """A run whose data check counted what it left in PostgreSQL: 40 orders and 70 events written, replica 3 one event
    behind, the monitor's tables (failure_audit and request_metrics older than the run too)."""
    data = experiment_data(full_results(1))
    tables = {"orders.orders": {"rows": 40, "written": 40}, "orders.outbox": {"rows": 70, "written": 70},
              "monitor.instance_status": {"rows": 3, "written": 3}, "monitor.failure_audit": {"rows": 30, "written": 12},
              "monitor.voting_events": {"rows": 2, "written": 0},
              "monitor.request_metrics": {"rows": 900, "written": 120}}
    for replica, applied in ((1, 70), (2, 70), (3, 69)):
        tables |= {f"inventory_{replica}.stock": {"rows": 3}, f"inventory_{replica}.applied_events": {"rows": applied}}
    data["data_check"] |= {"accepted_orders": 40, "events_in_log": 70,
                           "stored": {"since": T0, "tables": tables, "positions": {"1": 70, "2": 70, "3": 69}}}
    return build_report(data, {"replicas": 3}, "stored")


def test_question_15_says_what_the_run_left_in_postgresql() -> None:
    """Question 15 (what PostgreSQL stores): the guide's four kinds of record beside what this run wrote — its orders
    and their outbox, each replica's stock, applied events and position, the monitor's rows — in both languages."""
    q15 = by_id(stored_report())["q15"]
    assert q15.title == "Question 15" and q15.question == "What metrics are stored in PostgreSQL?"
    assert "failure events" in q15.expected and not q15.missing
    assert "This run wrote 40 orders (orders.orders) and 70 events to their outbox (orders.outbox)." in q15.measured
    assert ("Replica 3 (schema inventory_3) holds 3 products in its stock and 69 applied events, at position 69 of "
            "the log.") in q15.measured
    assert ("The monitor wrote 12 rows to failure_audit, 0 to voting_events and 120 to request_metrics during this "
            "run; instance_status holds the state of 3 instances.") in q15.measured
    assert any("in one transaction (the outbox)" in w for w in q15.why) and ("data check", "data-check") in q15.links
    spanish = by_id(stored_report(), "es")["q15"]
    assert spanish.question == "¿Qué métricas se almacenan en PostgreSQL?"
    assert "Esta ejecución escribió 40 órdenes (orders.orders) y 70 eventos en su outbox (orders.outbox)." in \
        spanish.measured


def test_question_15_on_a_report_from_before_the_tables_were_counted() -> None:
    """A recorded run's report has no `data_check.stored`: the answer names the field and gives the data check's own
    counts instead."""
    q15 = by_id(load_report(ROOT / "tests" / "data" / "runs" / "20261130T112356Z"))["q15"]
    assert q15.missing == ["data_check.stored"]
    assert "The data check of this report counted 221 accepted orders and 344 events in the log." in q15.measured


def guide_system_report() -> Report:
    """The guide's phases measured on a system built to the guide's contract, its monitor read every 20 ms; it cannot
    stop replicas, so two-down was skipped."""
    results = full_results(3)
    for r in results:
        r["detected_by"] = ["monitor: OFF read by polling"] if r["phase"] != "baseline" else None
        if r["phase"] == "two-down":  # skipped by the runner: nothing injected, nothing measured
            r.update(ttd_ms=None, ttr_ms=None, injected_at=None, episodes=[], quorum=None, detected_by=None,
                     skipped=[{"missing": "stop", "why": MISSING["stop"]}])
    data = experiment_data(results)
    data["system"] = {"kind": "guide", "name": "the students' shop", "replicas": [1, 2, 3],
                      "abilities": {"monitor": True, "pushed_events": False, "restart": True},
                      "contract": {"orders": {"url": "http://127.0.0.1:5006"}}, "observer": {"interval_ms": 20.0}}
    return build_report(data, {"replicas": 3, "orders_port": 5006}, "guide")


def test_a_guide_systems_answers_say_what_was_measured_there_and_claim_nothing_of_the_shop() -> None:
    """On a system measured through the guide's API no answer claims faultlab's own architecture (its supervisor, warm
    spares, events with their own timestamps, its monitor's 20 ms rechecks, its database); they say the system's
    monitor was read every 20 ms, TTD from the injection's acknowledgement to its OFF; a phase it could not run says
    why, not that its fault went undetected. The shop's run claims its architecture."""
    answers = by_id(guide_system_report())
    said = " ".join([*(line for a in answers.values() for line in [*a.measured, *a.why]),
                     *(row["why"] for a in answers.values() for row in a.rows)])
    for claim in ("supervisor", "warm spare", "timestamps of the events", "checks that replica again every 20 ms",
                  "This run's lab", "FAULTLAB_", "order-events", "PostgreSQL holds"):
        assert claim not in said, claim
    assert answers["q10"].measured[0] == ("By polling, as the guide does, but every 20 ms: from the injection's "
                                          "acknowledgement to the first read of this system's monitor that said OFF.")
    assert "The monitor was read every 20 ms." in answers["q1"].measured[0]
    assert answers["q2"].measured == ["The system under test has 3 replicas (`experiment_info.system.replicas`)."]
    crash = answers["s1"].rows[0]["why"]
    assert "Read by polling this system's monitor every 20 ms" in crash and "read every 20 ms." in crash
    assert "does not read its database" in answers["q15"].measured[0] and not answers["q15"].missing
    two_down = answers["s2"].rows[0]["why"]  # the system cannot stop two replicas: not run, and not called a miss
    assert two_down == ("Not run on this system: the system has no way to stop and start a replica (set "
                        "system.replicas.stop_command and system.replicas.start_command).")
    shop = by_id(build_report(experiment_data(full_results(3)), {"replicas": 3}, "shop"))
    assert any("supervisor starts the stopped replicas again" in w for w in shop["q13"].why)
    assert "supervisor" in shop["s1"].rows[0]["why"] and "polling this system" not in shop["s1"].rows[0]["why"]


def test_the_table_answers_every_question_and_scenario_of_the_guide() -> None:
    """The guide's 15 study questions and 4 scenarios each have an entry, titled in the guide's words in Spanish."""
    answers = guide_answers(build_report(experiment_data(full_results(1)), {}, "r"), "es")
    assert [a.id for a in answers] == [*(f"q{n}" for n in range(1, 16)), "s1", "s2", "s3", "s4", "phases"]
    assert [a.title for a in answers][:16] == [*(f"Pregunta {n}" for n in range(1, 16)), "Escenario 1"]
    assert all(a.question and (a.expected or a.id == "phases") for a in answers)
