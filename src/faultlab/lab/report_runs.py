"""A phase run as report.json records it (`PhaseResult`, one per phase and repetition): its load, its faults and the
episodes the monitor recorded of them, its quorum, and what it missed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faultlab.core.said import SaidText, Sentence
from faultlab.lab.kpi import Rating
from faultlab.lab.report_parts import FaultSpec, Record, Skipped, UnixTime, VotingDelta


class KindLoad(Record):
    """One kind of request of the load's mix (read, order, cancel, restock) in a window."""

    requests: int | None = None
    successful: int | None = None
    success_rate: float | None = None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    p99_latency_ms: float | None = None


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
    by_kind: dict[str, KindLoad] | None = None


class InjectedFault(Record):
    """A fault as the replica acknowledged it: its kind, parameters and when it became active."""

    kind: str
    params: dict[str, Any] = Field(default_factory=dict, description="the fault kind's parameters (faults/)")
    activated_at: UnixTime = None


class Episode(Record):
    """A fault episode as the monitor recorded it (timestamps of the events themselves)."""

    replica: int
    fault_kind: str | None = None
    fault: InjectedFault | None = None
    activated_at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    detected_at: UnixTime = Field(description="UNIX time in seconds (UTC)")
    detected_by: SaidText | None = Field(None, description="what detected it and why (a sentence: its code, "
                                                           "parameters and English text; a string in older runs)")
    cleared_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    recovered_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    detections: dict[str, float] | None = Field(None, description="when each detector (the monitor's and its "
                                                                  "shadows) first saw the fault")
    ttd_ms: float | None
    ttr_ms: float | None
    ttd_ms_by_detector: dict[str, float | None] | None = None
    last_event: str | None = None


class Quorum(Record):
    """A phase meant to lose quorum: when "quorum not reached" began and when quorum came back."""

    reads: int | None = None
    no_quorum_reads: int | None = None
    lost: bool | None = None
    lost_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    regained: bool | None = None
    regained_at: UnixTime = Field(None, description="UNIX time in seconds (UTC)")
    no_quorum_span_ms: float | None = None
    voter_quorum_not_reached: int | None = None


class FaultRun(Record):
    """One fault of a phase as it was injected: its kind, replicas, parameters (seed included) and times."""

    kind: str
    replicas: list[int]
    params: dict[str, Any] = Field(description="the fault kind's parameters (faults/), its seed included")
    start_s: float | None = None
    hold_s: float | None = None
    injected_at: UnixTime = None
    cleared_at: UnixTime = None


class PhaseResult(Record):
    """One phase of one repetition (the guide's results[] entry, plus more)."""

    phase: str
    repetition: int
    replicas: list[int] | None = None
    fault: FaultSpec | None = Field(None, description="the phase's first fault (kind and parameters)")
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
    detected_by: list[SaidText] | None = Field(None, description="what detected the fault, once each (sentences)")
    ttd_ms_by_detector: dict[str, float | None] | None = None
    episodes: list[Episode] | None = None
    quorum: Quorum | None = None
    voting: VotingDelta | None = None
    passed: bool
    missed: list[SaidText] = Field(description="what it missed, each a sentence (its code, parameters and English "
                                               "text; a string in older runs)")
    notes: list[SaidText] | None = None
    skipped: list[Skipped] | None = Field(None, description="what the system under test lacks for this phase: it "
                                                            "was not run, and not judged")
    ratings: dict[str, Rating] | None = Field(None, description="its values rated by the guide's KPI table")
    unmeasured: list[Skipped] | None = Field(None, description="what the system under test lacks to measure all of "
                                                               "this phase: it ran as far as it could, and what it "
                                                               "could not measure is not judged")

    def detected_by_sources(self) -> list[Sentence | str]:
        """What detected the fault ("supervisor: process exited", "voter: slow", …, as sentences; strings in older
        runs): the run's own list, else its episodes'."""
        if self.detected_by:
            return list(self.detected_by)
        return [e.detected_by for e in self.episodes or [] if e.detected_by]


def detection_source(detected_by: Sentence | str) -> str:
    """Who detected a fault ("supervisor", "voter", "monitor", …) from what detected it: the sentence's source, or the
    words before the colon of one recorded before sentences had codes."""
    if isinstance(detected_by, Sentence):
        source = detected_by.params.get("source")
        if isinstance(source, dict):
            return str(source.get("code", "")).removeprefix("source_")
        return str(source or "")
    return detected_by.split(":")[0]
