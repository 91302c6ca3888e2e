"""report.json as a typed model: what every run writes, checked before it is written; report.schema.json is this model's
JSON Schema (`make schemas` writes it, tests/unit/test_schemas.py keeps the committed file equal to it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
Verdict = bool | Literal["unknown"]
UnixTime = float | None


class Record(BaseModel):
    """A part of report.json: strict types, and room for more fields than the model names (newer runs add some)."""

    model_config = ConfigDict(strict=True, extra="allow")


class Distribution(Record):
    """One value per repetition (null when missing) and their median and spread."""

    values: list[float | None]
    n: int = Field(ge=0)
    missing: int = Field(ge=0)
    misses: int | None = Field(None, ge=0, description="TTD/TTR of a faulted phase: repetitions where the fault was "
                                                       "not detected (or the replica did not recover), counted as "
                                                       "+infinity in the median")
    median_missed: bool | None = Field(None, description="the median falls on a miss (median is then null): not "
                                                         "detected / not recovered in most repetitions")
    median: float | None
    mean: float | None = None
    min: float | None
    max: float | None
    stdev: float | None = None
    p25: float | None = None
    p75: float | None = None
    iqr: float | None = None
    spread: float | None = None


class LoadResult(Record):
    """The guide's load_test_result for a window of time, plus more. Latency in ms from each request's intended
    send time."""

    rps: float = Field(ge=0, description="requests completed per second of the window")
    avg_latency_ms: float | None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    max_latency_ms: float | None = None
    success_rate: float | None = Field(ge=0, le=100, description="percent of requests answered 2xx")
    requests: int | None = Field(None, ge=0)
    successful: int | None = Field(None, ge=0)
    errors: dict[str, int] | None = None
    duration_s: float | None = Field(None, ge=0)
    by_kind: dict[str, dict[str, Any]] | None = None


class Episode(Record):
    """A fault episode as the monitor recorded it (timestamps of the events themselves)."""

    replica: int
    fault_kind: str | None = None
    activated_at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    detected_at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    detected_by: str | None = None
    cleared_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    recovered_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    ttd_ms: float | None
    ttr_ms: float | None
    ttd_ms_by_detector: dict[str, float | None] | None = None


class Quorum(Record):
    """A phase meant to lose quorum: when "quorum not reached" began and when quorum came back."""

    lost: bool | None = None
    regained: bool | None = None
    lost_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    regained_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    reads: int | None = None
    no_quorum_reads: int | None = None


class FaultRun(Record):
    """One fault of a phase as it was injected: its kind, replicas, parameters (seed included) and times."""

    kind: str
    replicas: list[int]
    params: dict[str, Any]
    start_s: float | None = None
    hold_s: float | None = None
    injected_at: UnixTime = None
    cleared_at: UnixTime = None


class Skipped(Record):
    """An ability a phase needs and the system under test lacks, with the sentence that says so."""

    missing: str
    why: str


class PhaseResult(Record):
    """One phase of one repetition (the guide's results[] entry, plus more)."""

    phase: str
    repetition: int
    replicas: list[int] | None = None
    fault: dict[str, Any] | None = Field(None, description="the phase's first fault (kind and parameters)")
    faults: list[FaultRun] | None = Field(None, description="every fault of the phase, as injected")
    expects_quorum_loss: bool | None = None
    restarts_process: bool | None = None
    ttd_ms: float | None
    ttr_ms: float | None
    load_test_result: LoadResult
    during_fault: LoadResult | None = None
    started_at: UnixTime = None
    ended_at: UnixTime = None
    injected_at: UnixTime = None
    fault_ended_at: UnixTime = None
    detected_by: list[str] | None = None
    ttd_ms_by_detector: dict[str, float | None] | None = None
    episodes: list[Episode] | None = None
    quorum: Quorum | None = None
    voting: dict[str, Any] | None = None
    passed: bool
    missed: list[str]
    notes: list[str] | None = None
    skipped: list[Skipped] | None = Field(None, description="what the system under test lacks for this phase: it "
                                                            "was not run, and not judged")
    unmeasured: list[Skipped] | None = Field(None, description="what the system under test lacks to measure all of "
                                                               "this phase: it ran as far as it could, and what it "
                                                               "could not measure is not judged")


class Detector(Record):
    name: str | None
    health_interval_ms: int | None = None
    failure_threshold: int | None = None
    recovery_threshold: int | None = None


class Versions(Record):
    python: str
    faultlab: str


class ExperimentInfo(Record):
    """The guide's experiment_info, plus how the run was configured (the experiment as run, embedded)."""

    run_id: str | None = None
    start_time: str = Field(description="ISO 8601, UTC")
    end_time: str
    total_duration_seconds: float = Field(ge=0)
    start_ts: float | None = None
    end_ts: float | None = None
    title: str | None = None
    phases: list[str] = Field(min_length=1)
    repeat: int = Field(ge=1)
    seed: int
    rate_rps: float | None = Field(None, gt=0)
    fault_window_s: float | None = None
    settle_s: float | None = None
    load_target: str | None = None
    order_ratio: float | None = None
    request_timeout_s: float | None = None
    detector: Detector
    phase_definitions: dict[str, dict[str, Any]] | None = None
    lab: dict[str, Any] | None = None
    versions: Versions
    lab_settings: dict[str, Any] | None = Field(None, description="the lab settings this run changed")
    experiment: dict[str, Any] | None = Field(None, description="the experiment as it ran (the experiment file's "
                                                                "format, every default written out): "
                                                                "`faultlab experiment --file report.json` runs it "
                                                                "again")
    experiment_source: dict[str, Any] | None = Field(None, description="the file it was read from (path, sha256), "
                                                                       "or the run whose report.json it was")
    interrupted: bool | None = None
    aborted: str | None = None
    stopped_by: str | None = Field(None, description="the abort condition that stopped the run")
    reset: dict[str, Any] | None = Field(None, description="the data reset before the first phase (fresh stock, "
                                                           "empty log); null when the run kept the lab's data")
    system: dict[str, Any] | None = Field(None, description="the system under test: its kind (shop, guide), name, "
                                                          "abilities and the contract as found")


class Summary(Record):
    """The guide's summary."""

    total_tests: int
    successful_tests: int
    not_detected: int | None = None
    not_recovered: int | None = None
    avg_ttd_ms: float | None
    avg_ttr_ms: float | None
    max_p95_ms: float | None
    min_success_rate: float | None


class PhaseStatistics(Record):
    """Per phase: each repetition's values and their distribution; thresholds checked on medians."""

    repetitions: int = Field(ge=1)
    ttd_ms: Distribution
    ttr_ms: Distribution
    rps: Distribution | None = None
    avg_latency_ms: Distribution | None = None
    p95_latency_ms: Distribution
    p99_latency_ms: Distribution | None = None
    success_rate: Distribution
    runs_passed: int | None = None
    has_fault: bool | None = None
    thresholds: dict[str, float] | None = Field(None, description="the thresholds this phase was held to")
    passed: bool
    missed: list[str]
    skipped: list[Skipped] | None = Field(None, description="the phase was not run on this system (what it lacks)")
    runs_skipped: int | None = Field(None, ge=1, description="repetitions not run (a replica left down by this "
                                                            "phase's first run); the phase is judged on the others")
    unmeasured: list[Skipped] | None = Field(None, description="what could not be measured on this system")


class ThresholdValues(Record):
    max_ttd_ms: float
    max_ttr_ms: float
    max_restart_ttr_ms: float | None = None
    min_success_rate: float
    max_p95_ms: float


class VerdictModel(Record):
    valid: bool
    thresholds_met: bool
    data_valid: Verdict
    missed: list[str]
    rule: str | None = None


class Check(Record):
    valid: Verdict
    finding: dict[str, Any] | None = Field(None, description="what the check found, as a code and its parameters "
                                                            "(checks through a system's API: lab/api_findings.py)")
    findings: list[dict[str, Any]] | None = Field(None, description="the first of its other findings, each a code "
                                                                   "and its parameters")
    checkable: bool | None = Field(None, description="false: the system's answers lack what the check needs (not "
                                                     "judged; `why` says what)")


class DataCheck(Record):
    valid: Verdict
    checks: dict[str, Check] = Field(description="Jepsen-style checks, each {valid, counts..., samples...}. faultlab's "
                                                 "shop, from its database: log (seqs without a gap), orders_stored, "
                                                 "log_applied, replica_N_exactly_once, converged, order_statuses, "
                                                 "ambiguous_writes, refusals and read_history (when the run had a "
                                                 "load). A system reached through its API: replicas_converged, "
                                                 "stock_conserved, reserved_matches_orders, orders_leave_pending, "
                                                 "incorrect_masked, two_down_quorum, monotonic_reads")
    why: str | None = Field(None, description="why the check could not run (valid: unknown)")
    checked_through: Literal["api"] | None = Field(None, description="\"api\": checked through the system's API and "
                                                                     "the run's own records (not its database)")
    not_checkable: list[str] | None = Field(None, description="checks the system's answers cannot support: shown, "
                                                              "not judged (left out of valid)")
    accepted_orders: int | None = Field(None, ge=0)
    events_in_log: int | None = Field(None, ge=0)
    restocked: dict[str, int] | None = None
    ambiguous_writes: int | None = Field(None, ge=0)
    reads_checked: int | None = Field(None, ge=0)


class TimelineEvent(Record):
    at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    event: str


class Second(Record):
    t: int
    requests: int
    ok: int
    failed: int
    success_rate: float | None
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None
    p99_ms: float | None = None
    max_ms: float | None = None


class LoadTotal(Record):
    """The whole run's load (the guide's load_test_result fields) plus the writes of unknown outcome."""

    ambiguous: dict[str, int] | None = None
    requests_by_kind: dict[str, dict[str, int]] | None = None
    accepted_orders: int | None = Field(None, ge=0)


class Report(Record):
    """faultlab experiment report (report.json): the study guide's fields (experiment_info,
    results[].phase/ttd_ms/ttr_ms/load_test_result, summary) plus distributions over repetitions, the verdict, the
    data check, the fault timeline and time series."""

    schema_version: Literal[1]
    experiment_info: ExperimentInfo
    results: list[PhaseResult]
    summary: Summary
    phases: dict[str, PhaseStatistics]
    thresholds: ThresholdValues
    verdict: VerdictModel
    data_check: DataCheck
    fault_timeline: list[TimelineEvent]
    episodes: list[Episode] | None = None
    timeseries: list[Second]
    load_total: LoadTotal | None = None
    voting: dict[str, Any] | None = None
    steady_state: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


def report_schema() -> dict[str, Any]:
    """report.schema.json: the Report model's JSON Schema with its identity."""
    schema = Report.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://faultlab.invalid/report.schema.json",
            "title": "faultlab experiment report (report.json)", **{k: v for k, v in schema.items() if k != "title"}}


def runs_off_threshold(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """("phase #repetition", what it missed) of every run off a threshold; the phase may still pass on its median."""
    return [(f"{r['phase']} #{r['repetition']}", r["missed"]) for r in report.get("results", []) if r.get("missed")]
