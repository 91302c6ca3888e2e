"""The study guide's questions and scenarios answered with one run's numbers: one table of questions, one renderer.

Each entry of `QUESTIONS` names the guide's question (in Spanish, the guide's own words; in English, a translation),
what the guide expects, the lines that say what this run measured (figures from lab/guide_figures.py, functions of the
typed report), the whys (chosen by rules on the report) and the links to the report page's charts and tables by anchor
(`ttdttr`, `timeseries`, `phase-<name>`, `data-check`, …; the page adds its language suffix). A field the report lacks
is named as missing ("this report has no …"), never filled in. A line or why that describes faultlab's own
architecture (its supervisor, warm spares, events with their own timestamps) holds for the shop only (`SHOP`); a
system measured through the guide's API gets what was measured there (`GUIDE`). lab/guide_render.py turns an entry
and a report into an `Answer`.
"""

from __future__ import annotations

from collections.abc import Callable

from faultlab.core.i18n import N_
from faultlab.lab import guide_figures as fig
from faultlab.lab.guide_render import (
    GUIDE,
    SHOP,
    Answer,
    GuideExpectation,
    Line,
    Link,
    PhaseFigures,
    PhaseTable,
    PhaseWhy,
    Question,
    Why,
    render,
)
from faultlab.lab.report_model import Report

QUESTION, SCENARIO = N_("Question {n}"), N_("Scenario {n}")
RESTARTED = ("crash", "two-down")  # the phases whose replicas are started again

# The guide's expected results ("Fases del Experimento", "Casos de Uso y Escenarios"): words where it gives no number.
GUIDE_EXPECTED = {
    "crash": GuideExpectation(ttd_ms=600, ttr_text=N_("needs a manual restart")),
    "latency": GuideExpectation(ttd_ms=600, ttr_ms=200),
    "intermittent": GuideExpectation(ttd_text=N_("variable (depends on the frequency)"), ttr_ms=200),
    "incorrect": GuideExpectation(ttd_ms=600, ttr_ms=200),
    "two-down": GuideExpectation(ttd_ms=600, ttr_text=N_("needs manual intervention")),
}


# ---- why a phase's TTD and TTR differ from the guide's, rule by rule ------------------------------------------------


def _below(f: PhaseFigures) -> bool:
    return f.ttd_ms is not None and f.expected.ttd_ms is not None and f.ttd_ms < f.expected.ttd_ms


def _above(f: PhaseFigures) -> bool:
    return f.ttd_ms is not None and f.expected.ttd_ms is not None and f.ttd_ms > f.expected.ttd_ms


def _by(source: str) -> Callable[[PhaseFigures], bool]:
    return lambda f: _below(f) and any(s.startswith(source) for s in f.sources)


def _ttr_against_guide(f: PhaseFigures) -> float | None:
    """How far the TTR is from the guide's ~200 ms (a phase it gives a number for, not a restart); None otherwise."""
    if f.ttr_ms is None or f.phase in RESTARTED or f.expected.ttr_ms is None:
        return None
    return f.ttr_ms - f.expected.ttr_ms


PHASE_WHY = (
    PhaseWhy(N_("Not run on this system: {skipped}."), lambda f: bool(f.skipped)),
    PhaseWhy(N_("The fault was not detected in at least one repetition: a miss, counted against the verdict."),
             lambda f: f.ttd_ms is None and not f.skipped),
    PhaseWhy(N_("With errors at random (30 %), three failures in a row are rare (0.3³ ≈ 2.7 % of runs of three checks): "
                "the time to the first detection varies from run to run."),
             lambda f: f.ttd_ms is not None and f.phase == "intermittent" and (f.expected.ttd_ms is None or _above(f))),
    PhaseWhy(N_("The guide's ~600 ms is three failed health checks 200 ms apart, found by polling. Here the detection "
                "comes from the event itself:"), _below, SHOP),
    PhaseWhy(N_("the first piece of evidence of the fault marks the replica, whoever sees it."),
             lambda f: _below(f) and not any(s.split(":")[0] in ("supervisor", "voter", "monitor") for s in f.sources),
             SHOP),
    PhaseWhy(N_("the supervisor sees the process exit at once (no health check is needed)."), _by("supervisor"), SHOP),
    PhaseWhy(N_("the voter reports a replica that fails, is slow or answers a wrong value on the live reads, and that "
                "evidence marks it OFF at once."), _by("voter"), SHOP),
    PhaseWhy(N_("after one failed check the monitor checks that replica again every 20 ms, so three failures take tens "
                "of milliseconds, not 600."), _by("monitor"), SHOP),
    PhaseWhy(N_("Longer than the guide's figure: a busy machine (two cores shared with the load generator) delays "
                "checks and answers; the repetitions' spread shows how much."),
             lambda f: _above(f) and f.phase != "intermittent", SHOP),
    PhaseWhy(N_("Read by polling this system's monitor every {interval}: TTD runs from the injection's acknowledgement "
                "to the first read that said OFF, so it may be up to {interval} late."),
             lambda f: f.ttd_ms is not None and f.interval is not None, GUIDE),
    PhaseWhy(N_("The replica did not recover in at least one repetition: a miss, counted against the verdict."),
             lambda f: f.ttr_ms is None and not f.skipped),
    PhaseWhy(N_("The guide's reference needed a manual restart. Here the supervisor starts the replica again (a warm "
                "spare takes over a crashed one); TTR runs until it is back ON and caught up with the log."),
             lambda f: f.ttr_ms is not None and f.phase in RESTARTED, SHOP),
    PhaseWhy(N_("A replica is ON again only after 5 good checks in a row and once it has caught up with the log (a "
                "lagging replica must not answer votes); that takes longer than the guide's ~200 ms here."),
             lambda f: (_ttr_against_guide(f) or 0) > 0, SHOP),
    PhaseWhy(N_("After the fault is cleared the monitor checks the replica every 20 ms: the 5 good checks it needs to "
                "be ON again come in well under the guide's ~200 ms."),
             lambda f: (_ttr_against_guide(f) or 0) < 0, SHOP),
    PhaseWhy(N_("TTR runs from the clear (or the restart) to the first read of this system's monitor that said ON "
                "again, read every {interval}."), lambda f: f.ttr_ms is not None and f.interval is not None, GUIDE),
)
PHASES = PhaseTable(GUIDE_EXPECTED, PHASE_WHY, fig.poll_interval_ms)
NOT_READ_HERE = N_("faultlab does not read this system's own settings: the contract it was reached by, as probed, is "
                   "`experiment_info.system.contract`.")
TIMESERIES, TTDTTR = "timeseries", "ttdttr"

# ---- the table -------------------------------------------------------------------------------------------------


QUESTIONS: tuple[Question, ...] = (
    Question("q1", QUESTION, N_("What are TTD and TTR?"), 1,
             expected=N_("TTD: time to detect a fault. TTR: time to recover from it."),
             measured=(
                 Line(N_("TTD runs from the moment the fault became active (the replica's own acknowledgement, or the "
                         "supervisor seeing the process die) to its first detection; TTR from the fault being cleared "
                         "to the replica being back ON and caught up with the log."), systems=SHOP),
                 Line(N_("TTD runs from the injection's acknowledgement (for a crash, the command that stops the "
                         "replica) to the first read of this system's monitor that said OFF; TTR from the fault being "
                         "cleared (or the replica restarted) to the first read that said ON again. The monitor was "
                         "read every {interval}."), fig.poll_figures, GUIDE),
                 Line(N_("In this run: mean TTD {ttd}, mean TTR {ttr} over the phase runs that have them."),
                      fig.mean_times)),
             links=(Link(N_("TTD and TTR per phase (chart)"), TTDTTR),)),
    Question("q2", QUESTION, N_("How many inventory-svc replicas are there?"), 2,
             expected=N_("3 replicas (inventory-svc-1, inventory-svc-2, inventory-svc-3)."),
             measured=(
                 Line(N_("This run's lab: {value}{unit} (`{field}`)."),
                      fig.setting(fig.lab_replicas, "experiment_info.lab.replicas"), SHOP),
                 Line(N_("The system under test has {value} replicas (`{field}`)."),
                      fig.setting(fig.system_replicas, "experiment_info.system.replicas"), GUIDE)),
             why=(Why(N_("This lab was configured with another number of replicas."),
                      fig.differs(fig.lab_replicas, 3), SHOP),
                  Why(N_("This system has another number of replicas."), fig.differs(fig.system_replicas, 3), GUIDE)),
             links=(Link(N_("the run's settings"), "run", fig.known(fig.lab_replicas)),)),
    Question("q3", QUESTION, N_("Which port does orders-svc use?"), 3, expected=N_("Port 5006."),
             measured=(Line(N_("This run's lab: {value}{unit} (`{field}`)."),
                            fig.setting(fig.orders_port, "experiment_info.lab.orders_port"), SHOP),
                       Line(NOT_READ_HERE, systems=GUIDE)),
             why=(Why(N_("This lab ran on other ports (FAULTLAB_ORDERS_PORT), not the guide's."),
                      fig.differs(fig.orders_port, 5006), SHOP),),
             links=(Link(N_("the run's settings"), "run", fig.known(fig.orders_port)),)),
    Question("q4", QUESTION, N_("How many consecutive failures mark an instance OFF?"), 4,
             expected=N_("3 consecutive failures."),
             measured=(Line(N_("This run's lab: {value}{unit} (`{field}`)."),
                            fig.setting(fig.failure_threshold, "experiment_info.detector.failure_threshold"), SHOP),
                       Line(NOT_READ_HERE, systems=GUIDE)),
             why=(Why(N_("This lab's monitor was configured with another threshold (FAULTLAB_FAILURE_THRESHOLD)."),
                      fig.differs(fig.failure_threshold, 3), SHOP),),
             links=(Link(N_("the run's settings"), "run", fig.known(fig.failure_threshold)),)),
    Question("q5", QUESTION, N_("How often does monitor-svc run health checks?"), 5, expected=N_("Every 200 ms."),
             measured=(Line(N_("This run's lab: {value}{unit} (`{field}`)."),
                            fig.setting(fig.health_interval_ms, "experiment_info.detector.health_interval_ms", " ms"),
                            SHOP),
                       Line(NOT_READ_HERE, systems=GUIDE),
                       Line(N_("faultlab read this system's monitor every {interval}."), fig.poll_figures, GUIDE)),
             why=(Why(N_("This lab's monitor was configured with another interval (FAULTLAB_HEALTH_INTERVAL_MS)."),
                      fig.differs(fig.health_interval_ms, 200), SHOP),),
             links=(Link(N_("the run's settings"), "run", fig.known(fig.health_interval_ms)),)),
    Question("q6", QUESTION, N_("How does majority voting work?"), 6,
             expected=N_("The 3 instances are asked, outliers are detected, and the decision is taken by majority "
                         "(2 of 3)."),
             measured=(
                 Line(N_("The voter asks the three replicas at once and answers as soon as two hold the same value at "
                         "the same log position; a replica that is only behind is not counted as wrong."),
                      systems=SHOP),
                 Line(N_("This run: {votes} voted reads, {reached} reached a majority of {need} of {fan_out} "
                         "({rate})."), fig.votes_in_run),
                 Line(N_("The other {n} were answered \"quorum not reached\" (HTTP 503): fewer than two replicas "
                         "agreed, as while two were down."), fig.votes_lost),
                 Line(N_("While replica {replica} served wrong values (incorrect phase), {rate} of the voted reads "
                         "succeeded, with the majority's value."), fig.incorrect_reads, SHOP),
                 Line(N_("While replica {replica} served wrong values (incorrect phase), {rate} of the voted reads "
                         "were answered."), fig.incorrect_reads, GUIDE)),
             links=(Link(N_("voted reads' success rate over time (chart)"), TIMESERIES),)),
    Question("q7", QUESTION, N_("Which kinds of fault can be injected?"), 7,
             expected=N_("Crash (ends the process), latency (artificial delay), intermittent (probability of "
                         "failure), incorrect (wrong answer)."),
             measured=(Line(N_("Injected in this run: {kinds}."), fig.kinds_injected),),
             why=(Why(N_("faultlab also has hang (accepts, never answers) and stale (stops applying the log), and on a "
                         "namespace lab the network faults partition and netem; `stop` is the two-down phase's stopped "
                         "processes."), systems=SHOP),),
             links=(Link(N_("fault timeline"), "timeline"),)),
    Question("q8", QUESTION, N_("How is an outlier detected?"), 8,
             expected=N_("With the standard deviation (2σ), comparing with the mean of the answers."),
             measured=(
                 Line(N_("This run has no incorrect phase: no wrong values to show."), fig.no_incorrect_phase),
                 Line(N_("A wrong value is an answer that disagrees with the majority at the same log position. In "
                         "the incorrect phase the wrong replica was detected after {ttd} ({sources})."),
                      fig.incorrect_detection, SHOP),
                 Line(N_("In the incorrect phase the wrong replica was detected after {ttd} ({sources})."),
                      fig.incorrect_detection, GUIDE),
                 Line(N_("Outlier flags during that phase, by replica: {flags}."), fig.outlier_flags)),
             why=(Why(N_("|x − mean| > 2σ over three values can never fire: the largest possible z-score of one value "
                         "among three is 2/√3 ≈ 1.15. So faultlab compares values by majority at equal positions, and "
                         "latencies by median and MAD of the peers."), systems=SHOP),
                  Why(N_("|x − mean| > 2σ over three values can never fire: the largest possible z-score of one value "
                         "among three is 2/√3 ≈ 1.15."), systems=GUIDE)),
             links=(Link(N_("the incorrect phase"), "phase-incorrect"),)),
    Question("q9", QUESTION, N_("What does voter-svc do?"), 9,
             expected=N_("It aggregates answers by majority, detects outliers and gives the agreed inventory."),
             measured=(Line(N_("Since the voter started: {votes} voted reads, {rate} reached quorum, {no} answered "
                               "\"quorum not reached\"; a vote took {p50} at the median, {p99} at p99."),
                            fig.voter_since_start),)),
    Question("q10", QUESTION, N_("How is TTD measured?"), 10,
             expected=N_("From the injection of the fault to its detection by monitor-svc."),
             measured=(
                 Line(N_("From the timestamps of the events, not by polling: the replica acknowledges the fault with "
                         "the moment it became active, the monitor records its first detection (its own checks, the "
                         "voter's evidence or the supervisor's process exit); TTD is the difference."), systems=SHOP),
                 Line(N_("By polling, as the guide does, but every {interval}: from the injection's acknowledgement "
                         "to the first read of this system's monitor that said OFF."), fig.poll_figures, GUIDE),
                 Line(N_("{phase}: TTD {ttd}, detected by {sources}."), fig.faulted_phase_times),
                 Line(N_("Each detector on the same evidence (median TTD over every phase run): {values}."),
                      fig.detector_medians)),
             links=(Link(N_("fault episodes"), "episodes"),
                    Link(N_("detection marked on the load chart"), TIMESERIES))),
    Question("q11", QUESTION, N_("Why is Kafka used in this experiment?"), 11,
             expected=N_("Decoupling of services, asynchronous messaging, an error queue, scalability."),
             measured=(Line(N_("Every replica applies the same ordered log (`order-events`), each to its own state, "
                               "and a restarted replica resumes from its stored position. Data check of this run: "
                               "{valid}; {orders} accepted orders, {events} events in the log."),
                            fig.data_check_counts, SHOP),
                       Line(N_("How this system uses Kafka cannot be seen through the guide's API, which is all "
                               "faultlab reached it by."), systems=GUIDE)),
             links=(Link(N_("data check"), "data-check"),)),
    Question("q12", QUESTION, N_("How are the P95 and P99 percentiles computed?"), 12,
             expected=N_("P95: 95 % of the answers are below this value. P99: 99 % of the answers are below it."),
             measured=(Line(N_("Over the {n} requests of this run: p50 {p50}, p95 {p95}, p99 {p99}. Latencies go "
                               "into an HdrHistogram, measured from each request's intended send time (open loop), so "
                               "a stalled server shows as latency, not as fewer requests."), fig.load_percentiles),),
             links=(Link(N_("latency p50/p95/p99 over time (chart)"), TIMESERIES, lambda r: r.load_total is not None),)),
    Question("q13", QUESTION, N_("What happens if 2 of 3 instances fail?"), 13,
             expected=N_("The system cannot take a majority decision; it is marked as a system failure; manual "
                         "intervention is needed."),
             measured=(Line(None, fig.quorum_lines),),
             why=(Why(N_("No manual intervention here: the supervisor starts the stopped replicas again. Meanwhile the "
                         "voter says so (HTTP 503 \"quorum not reached\") instead of guessing, and orders are still "
                         "accepted: the log keeps them and the replicas catch up."), systems=SHOP),),
             links=(Link(N_("the two-down phase"), "phase-two-down"),
                    Link(N_("success rate over time (chart)"), TIMESERIES))),
    Question("q14", QUESTION, N_("How is data consistency handled?"), 14,
             expected=N_("Eventual consistency, majority voting, outlier detection."),
             measured=(Line(N_("Data check of this run: {valid}; {passed} of {total} checks passed ({names})."),
                            fig.checks_passed),),
             why=(Why(N_("Each replica applies the same log in order, exactly once, so they converge; the data check "
                         "compares every replica with a single-copy model of the accepted orders."), systems=SHOP),),
             links=(Link(N_("data check"), "data-check"),)),
    Question("q15", QUESTION, N_("What metrics are stored in PostgreSQL?"), 15,
             expected=N_("Instance status, request metrics, failure events, voting events."),
             measured=(
                 Line(N_("PostgreSQL holds the shop's data as well as the monitor's records: the orders with their "
                         "outbox (written in one transaction), each replica's own schema (its stock, the events it "
                         "applied, its position in the log), and the monitor's instance_status, failure_audit, "
                         "voting_events and request_metrics."), systems=SHOP),
                 Line(N_("This run wrote {orders} orders (orders.orders) and {events} events to their outbox "
                         "(orders.outbox)."), fig.stored_orders, SHOP),
                 Line(N_("Replica {replica} (schema inventory_{replica}) holds {products} products in its stock and "
                         "{applied} applied events, at position {position} of the log."), fig.stored_replicas, SHOP),
                 Line(N_("The monitor wrote {failures} rows to failure_audit, {votes} to voting_events and {metrics} "
                         "to request_metrics during this run; instance_status holds the state of {instances} "
                         "instances."), fig.stored_monitor, SHOP),
                 Line(N_("The data check of this report counted {orders} accepted orders and {events} events in the "
                         "log."), fig.stored_counts_only, SHOP),
                 Line(N_("faultlab measured this system through the guide's API and does not read its database: what "
                         "it stores there is not measured here."), systems=GUIDE)),
             why=(Why(N_("The guide's four kinds of record are the monitor's tables here too. Beside them PostgreSQL "
                         "keeps the data itself: an order and its event are written in one transaction (the outbox), "
                         "so no accepted order is lost, and each replica keeps its own state, where the reference's "
                         "three replicas shared one table."), systems=SHOP),),
             links=(Link(N_("data check"), "data-check"),)),
    Question("s1", SCENARIO, N_("One instance fails (inventory-svc-1)."), 1, phase="crash",
             expected=N_("TTD ~600 ms; the system keeps working with 2 instances; majority voting works; TTR ~200 ms "
                         "after the fault is cleared.")),
    Question("s2", SCENARIO, N_("Two instances fail (inventory-svc-1 and inventory-svc-2)."), 2, phase="two-down",
             during=False,
             expected=N_("TTD ~600 ms for both; the system cannot take a majority decision; voter-svc reports "
                         "\"quorum not reached\"; manual intervention is needed."),
             measured=(Line(None, fig.quorum_lines),)),
    Question("s3", SCENARIO, N_("Intermittent fault: inventory-svc-3 fails 30 % of requests."), 3,
             phase="intermittent",
             expected=N_("Success rate ~70 %; variable TTD; the system detects outliers; TTR ~200 ms."),
             why=(Why(N_("The success rate stays near 100 % instead of ~70 %: a voted read needs two agreeing "
                         "replicas of three, so the voter masks the failing one (~70 % is that replica's own success "
                         "rate)."), systems=SHOP),)),
    Question("s4", SCENARIO, N_("High latency: inventory-svc-2 answers 1200 ms late."), 4, phase="latency",
             expected=N_("P95 latency ~1200 ms; TTD ~600 ms; the system detects the slow instance; TTR ~200 ms."),
             measured=(Line(N_("p95 latency while the fault was active: {p95} (highest repetition)."),
                            fig.latency_p95_figures),),
             why=(Why(N_("p95 stays far below 1200 ms: the voter answers as soon as two replicas agree and does not "
                         "wait for the slow one."), fig.latency_p95_below(1200), SHOP),)),
    Question("phases", N_("The guide's phases"), N_("Expected TTD and TTR of each phase beside this run's."),
             rows=fig.faulted_phases, links=(Link(N_("TTD and TTR per phase (chart)"), TTDTTR),)),
)


def guide_answers(report: Report, lang: str) -> list[Answer]:
    """Every question and scenario of the guide that a run can answer, in `lang`, from this report's fields."""
    return [render(question, report, PHASES, lang) for question in QUESTIONS]
