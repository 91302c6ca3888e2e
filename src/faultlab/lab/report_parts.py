"""The parts of report.json that say how a run was set up and what surrounded it: the system under test, the lab's
settings, the data reset, the voter's counters before and after, the steady state and the files beside it.

Each part is a `Record`: strict types, a default (None) for every field an older run may lack, and room for the fields
a newer run (or another kind of system) adds. `report_model.Report` assembles them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from faultlab.core.said import SaidText

Verdict = bool | Literal["unknown"]
UnixTime = float | None
# A document in a format of its own, kept as it was written: an experiment (experiments/experiment.schema.json, read
# back by `Experiment.model_validate`), a phase of one, a system's contract as probed. Older runs wrote older versions
# of those formats, so they are not held to today's models here.
Document = dict[str, Any]
# Lab settings by name (core/config.py Settings), as an experiment set them or a reset found them changed.
SettingValues = dict[str, bool | int | float | str]


class Record(BaseModel):
    """A part of report.json: strict types, and room for more fields than the model names (newer runs add some)."""

    model_config = ConfigDict(strict=True, extra="allow")


class ExperimentSource(Record):
    """Where the experiment was read from."""

    path: str | None = None
    sha256: str | None = None
    from_report: str | None = Field(None, description="the run id of the report.json it was read from")
    # the experiment as its file (or the guide's) has it, before the command line's options: a shorter run says so
    title: str | None = None
    phases: list[str] | None = None
    repeat: int | None = Field(None, ge=1)


class Detector(Record):
    """The monitor's detector as the run found it (its status answer)."""

    name: str | None
    health_interval_ms: int | None = None
    failure_threshold: int | None = None
    recovery_threshold: int | None = None


class Versions(Record):
    """Python's, faultlab's and the other packages' versions (by package name), the platform and the git commit."""

    python: str
    faultlab: str


class LabView(Record):
    """The lab's settings worth keeping in a report (never a token or a DSN), with the ones the run changed."""

    replicas: int | None = None
    orders_port: int | None = None
    inventory_base_port: int | None = None
    monitor_port: int | None = None
    voter_port: int | None = None
    supervisor_port: int | None = None
    initial_stock: dict[str, int] | None = None
    health_interval_ms: int | None = None
    health_timeout_ms: int | None = None
    failure_threshold: int | None = None
    recovery_threshold: int | None = None
    recovery_interval_ms: int | None = None
    detector: str | None = None
    detector_params: dict[str, float] | None = None
    voter_timeout_ms: int | None = None
    voter_slow_ms: int | None = None
    restart_crashed: bool | None = None
    database: str | None = Field(None, description="\"embedded PostgreSQL\" or \"external\"")
    broker: str | None = Field(None, description="\"embedded Tansu\" or \"external Kafka\"")
    stale_after_ms: int | None = None
    stale_after_busy_ms: int | None = None
    caught_up_ms: int | None = None
    fetch_wait_ms: int | None = None
    fetch_idle_wait_ms: int | None = None


class ResetInfo(Record):
    """The supervisor's data reset (or restart with the run's lab settings) and what it changed."""

    reset: bool | None = None
    seconds: float | None = None
    initial_stock: dict[str, int] | None = None
    kept_data: bool | None = None
    settings: SettingValues | None = Field(None, description="the lab settings that differ from the lab's own")


class Abilities(Record):
    """What the system under test can do (lab/systems/base.py `Abilities`)."""

    reset: bool | None = None
    lab_settings: bool | None = None
    restart: bool | None = None
    stop: bool | None = None
    monitor: bool | None = None
    pushed_events: bool | None = Field(None, description="its monitor's events carry their own timestamps (else its "
                                                          "status is polled)")
    restock: bool | None = None
    order_status: bool | None = None
    positions: bool | None = None
    netns: bool | None = None
    warm_spares: bool | None = None
    fault_kinds: list[str] | None = None


class Observer(Record):
    """faultlab's own observer of a system it did not start: how often it polled."""

    interval_ms: float | None = Field(None, description="how often it probed the replicas and read the system's "
                                                        "monitor")


class SystemInfo(Record):
    """The system under test: its kind ("shop": faultlab's own; "guide": a system built to the study guide's contract,
    measured through its API), name, abilities and how it was reached."""

    kind: str
    name: str | None = None
    replicas: list[int] | None = None
    products: list[str] | None = None
    abilities: Abilities | None = None
    supervisor: str | None = None
    urls: dict[str, str] | None = None
    contract: Document | None = Field(None, description="the contract as found (its own format)")
    observer: Observer | None = None


class VoteLatency(Record):
    """How long a vote took, in ms (null while there were none)."""

    count: int | None = None
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class ReplicaVotes(Record):
    """One replica's answers as the voter judged them."""

    agreed: int | None = None
    wrong: int | None = None
    slow: int | None = None
    behind: int | None = None
    failures: dict[str, int] | None = None
    median_latency_ms: float | None = None


class VoterStats(Record):
    """The voter's counters (`GET /voting/stats`), counted since it started."""

    total_votes: int | None = None
    quorum_reached: int | None = None
    quorum_not_reached: int | None = None
    quorum_rate: float | None = Field(None, description="percent of votes that reached quorum")
    votes_needed: int | None = None
    fan_out: int | None = None
    lag_rounds: int | None = None
    stale_answers: int | None = None
    latency_ms: VoteLatency | None = None
    outliers_by_replica: dict[str, int] | None = None
    latency_outliers: list[int] | None = None
    replicas: dict[str, ReplicaVotes] | None = None


# A system's voter answers in its own shape: faultlab's is read as VoterStats, any other answer is kept as it came.
VoterAnswer = Annotated[VoterStats | dict[str, Any], Field(union_mode="left_to_right")]


class Voting(Record):
    """The voter's counters before the first phase and after the last (the run's votes are the difference)."""

    before: VoterAnswer | None = None
    after: VoterAnswer | None = None


class ProbeResult(Record):
    """One probe of the steady-state hypothesis and what it found."""

    probe: str
    ok: bool
    on: int | None = Field(None, description="replicas_on: how many replicas were ON")
    needed: int | None = None
    status: int | None = Field(None, description="http: the HTTP status answered")
    success_rate: float | None = Field(None, description="voted_reads: percent answered")
    p95_ms: float | None = None
    detail: SaidText | None = Field(None, description="what it saw (a sentence)")


class Hypothesis(Record):
    """The steady-state hypothesis: every probe's result."""

    ok: bool
    probes: list[ProbeResult] = Field(default_factory=list)
    seconds: float | None = None


class LabFactsView(Record):
    """What the experiment was checked against: the system's replicas, products, network and nodes."""

    replica_ids: list[int] | None = None
    product_ids: list[str] | None = None
    netns: bool | None = None
    nodes: list[str] | None = None


class SteadyCheck(Record):
    """The system checked before the first phase (whether it answered, the facts, the hypothesis, the warm spares) or
    after the rollback (the problems left, the hypothesis)."""

    supervisor: bool | None = Field(None, description="faultlab's shop: its supervisor answered")
    netns: bool | None = None
    ok: bool | None = None
    lab: LabFactsView | None = None
    problems: list[SaidText] | None = None
    hypothesis: Hypothesis | None = None
    warm_spares_ready: bool | None = None


class SteadyState(Record):
    """The steady state before the run and after the rollback, and what the rollback could not do."""

    before: SteadyCheck | None = None
    after: SteadyCheck | None = None
    rollback_problems: list[SaidText] = Field(default_factory=list)
    lab_settings_restored: ResetInfo | None = None


class Files(Record):
    """The files beside report.json in the run folder."""

    events: str | None = None
    logs: str | None = None
    html: str | None = None
    log_files: list[str] | None = None


# ---- parts of a phase run (report_runs.PhaseResult) ----


class FaultSpec(Record):
    """A phase's first fault as defined: its kind, and its parameters beside it."""

    kind: str


class Skipped(Record):
    """An ability a phase needs and the system under test lacks, with the sentence that says so."""

    missing: str
    why: str


class VotingDelta(Record):
    """The voter's counters over one phase run."""

    total_votes: int | None = None
    quorum_reached: int | None = None
    quorum_not_reached: int | None = None
    outliers_by_replica: dict[str, int] | None = None
