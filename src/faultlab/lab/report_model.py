"""report.json as one typed object: `Report` is built by the runner's report (lab/report.py `build_report`), written
from itself (`Report.document`) and read back into itself (`load_report`); every reader uses its attributes.

report.schema.json is this model's JSON Schema (`make schemas` writes it, tests/unit/test_schemas.py keeps the
committed file equal to it). A field an older run did not write is None here (and absent from its JSON): a reader
says the report has no such field, never makes up a value. A phase run (`PhaseResult`) is in lab/report_runs.py, the
parts that surround the run in lab/report_parts.py, the data check in lab/report_checks.py; every model of the
document can be imported from here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from faultlab.core.said import SaidText, Sentence
from faultlab.lab.kpi import KpiRow, Rating, Rule
from faultlab.lab.report_checks import DataCheck
from faultlab.lab.report_parts import (
    Detector,
    Document,
    ExperimentSource,
    Files,
    LabView,
    Record,
    ResetInfo,
    SettingValues,
    Skipped,
    SteadyState,
    SystemInfo,
    UnixTime,
    Verdict,
    Versions,
    Voting,
)
from faultlab.lab.report_runs import (
    Episode,
    FaultRun,
    InjectedFault,
    KindLoad,
    LoadResult,
    PhaseResult,
    Quorum,
    detection_source,
)
from faultlab.lab.timeline_model import Timeline

SCHEMA_VERSION: Literal[1] = 1
SHOP = "shop"  # the kind of system a report without `experiment_info.system` measured: faultlab's own


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
    phase_definitions: dict[str, Document] | None = Field(None, description="each phase as defined (the experiment "
                                                                            "file's format)")
    lab: LabView | None = None
    versions: Versions
    lab_settings: SettingValues | None = Field(None, description="the lab settings this run changed")
    experiment: Document | None = Field(None, description="the experiment as it ran (the experiment file's format, "
                                                          "every default written out): `faultlab experiment --file "
                                                          "report.json` runs it again")
    experiment_source: ExperimentSource | None = Field(None, description="the file it was read from (path, sha256), "
                                                                         "or the run whose report.json it was")
    interrupted: bool | None = None
    aborted: SaidText | None = Field(None, description="why the run was aborted before its phases (a sentence)")
    stopped_by: SaidText | None = Field(None, description="the abort condition that stopped the run (a sentence)")
    reset: ResetInfo | None = Field(None, description="the data reset before the first phase (fresh stock, empty "
                                                      "log); null when the run kept the lab's data")
    system: SystemInfo | None = Field(None, description="the system under test: its kind (shop, guide), name, "
                                                        "abilities and the contract as found")
    run_dir: str | None = Field(None, description="the run folder it was written to")


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
    ratings: dict[str, Rating] | None = Field(None, description="its values rated by the guide's KPI table")


class ThresholdValues(Record):
    """The thresholds (the guide's acceptable values) a phase's medians are held to."""

    max_ttd_ms: float
    max_ttr_ms: float
    max_restart_ttr_ms: float | None = None
    min_success_rate: float
    max_p95_ms: float


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
    thresholds: ThresholdValues | None = Field(None, description="the thresholds this phase was held to")
    passed: bool
    missed: list[SaidText]
    skipped: list[Skipped] | None = Field(None, description="the phase was not run on this system (what it lacks)")
    rule: Rule | None = Field(None, description="what it is judged by: thresholds, restart (TTR against "
                                                "max_restart_ttr_ms) or quorum (lost and regained)")
    ratings: dict[str, Rating] | None = Field(None, description="its medians rated by the guide's KPI table")
    runs_skipped: int | None = Field(None, ge=1, description="repetitions not run (a replica left down by this "
                                                            "phase's first run); the phase is judged on the others")
    unmeasured: list[Skipped] | None = Field(None, description="what could not be measured on this system")


class VerdictModel(Record):
    """PASS or FAIL, and everything that made it FAIL."""

    valid: bool
    thresholds_met: bool
    data_valid: Verdict
    missed: list[SaidText] = Field(description="everything that made it FAIL, first what stopped the run (sentences)")
    rule: SaidText | None = None


class TimelineEvent(Record):
    """An operator action on the system: a fault injected or cleared, a process stopped or started."""

    at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    event: str
    replica: int | None = None
    fault: InjectedFault | None = None
    kind: str | None = None
    rollback: bool | None = Field(None, description="done by the rollback at the end of the run")


class Second(Record):
    """One second of the load, by intended send time."""

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
    reads: int | None = None
    reads_ok: int | None = None
    orders: int | None = None
    orders_ok: int | None = None


class RequestCount(Record):
    """Requests of one kind: sent, ok, failed and of unknown outcome (Jepsen's info)."""

    sent: int
    ok: int
    fail: int
    info: int


class LoadTotal(LoadResult):
    """The whole run's load (the guide's load_test_result fields) plus the writes of unknown outcome."""

    max_send_lag_ms: float | None = None
    accepted_orders: int | None = Field(None, ge=0)
    ambiguous: dict[str, int] | None = None
    requests_by_kind: dict[str, RequestCount] | None = None


class RunTimelines(Record):
    """The episode timelines of one phase run (lab/timeline_model.Timeline, drawn by static/timeline.js)."""

    phase: str
    repetition: int
    episodes: list[Timeline]


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
    voting: Voting | None = None
    steady_state: SteadyState | None = None
    files: Files | None = None
    kpi_table: list[KpiRow] | None = Field(None, description="the guide's KPI table the ratings were made with")
    timelines: list[RunTimelines] | None = Field(None, description="every episode of every phase run drawn as its "
                                                                   "timeline, from the run's events.jsonl")

    def document(self) -> dict[str, Any]:
        """report.json as written: every field this report has (set when it was built, or present in the file it was
        read from), none it lacks — older runs' reports keep their shape."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def system_kind(self) -> str:
        """The kind of system measured: "shop" (faultlab's own, and every run from before systems were named) or
        another ("guide": a system built to the study guide's contract)."""
        system = self.experiment_info.system
        return system.kind if system is not None else SHOP

    def runs_of(self, phase: str) -> list[PhaseResult]:
        """The phase's runs, one per repetition, in the order they ran."""
        return [r for r in self.results if r.phase == phase]

    def runs_off_threshold(self) -> list[tuple[str, list[Sentence | str]]]:
        """("phase #repetition", what it missed) of every run off a threshold; the phase may still pass on its
        median."""
        return [(f"{r.phase} #{r.repetition}", r.missed) for r in self.results if r.missed]


def report_schema() -> dict[str, Any]:
    """report.schema.json: the Report model's JSON Schema with its identity."""
    schema = Report.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://faultlab.invalid/report.schema.json",
            "title": "faultlab experiment report (report.json)", **{k: v for k, v in schema.items() if k != "title"}}


__all__ = ["SCHEMA_VERSION", "SHOP", "DataCheck", "Distribution", "Episode", "ExperimentInfo", "FaultRun", "InjectedFault",
           "KindLoad", "LoadResult", "LoadTotal", "PhaseResult", "PhaseStatistics", "Quorum", "Report", "RequestCount",
           "RunTimelines", "Second", "Summary", "ThresholdValues", "TimelineEvent", "VerdictModel", "detection_source",
           "report_schema"]
