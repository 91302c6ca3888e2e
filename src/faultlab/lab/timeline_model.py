"""The episode timeline's document: one fault on one replica, from a little before it to a little after recovery.

One typed model (`Timeline`) that lab/timeline.py builds and static/timeline.js draws; its JSON Schema is
src/faultlab/lab/timeline.schema.json (`make schemas`). Times are UNIX seconds; every lane is optional and says
whether it was recorded, so a run that recorded less is drawn with what it has and the rest marked "not recorded".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from faultlab.core.messages import Message

UnixTime = float
Status = Literal["ON", "OFF", "UNKNOWN"]
CheckOutcome = Literal["ok", "slow", "stale", "timeout", "failed"]
FaultEvent = Literal["injected", "active", "cleared", "process_exit"]
RecoveryEvent = Literal["process_exit", "process_start", "answered", "caught_up", "recovered"]
Measure = Literal["consecutive_failures", "window_failures", "phi", "success_pct"]
VERSION: Literal[1] = 1
# A detector's [time, value]: a pair read back from JSON (report.json) is a list, taken as the pair it stands for.
Point = Annotated[tuple[UnixTime, float | None], BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


class Moment(Message):
    """One event of the episode: what happened, and when."""

    event: str = Field(description="fault: injected, active, cleared, process_exit; spans: fault_active, detected, "
                                   "fault_cleared, process_exit, recovered; recovery: process_exit, process_start, "
                                   "answered, caught_up, recovered")
    at: UnixTime


class Span(Message):
    """TTD or TTR: from its own start event to its own end event; no end (and no value) when it never ended."""

    start: Moment
    end: Moment | None = None
    ms: float | None = Field(None, ge=0, description="end - start, in ms (the monitor's own figure when recorded)")


class Fault(Message):
    """The fault: its kind and parameters, when the lab asked for it, when it took effect, when it ended."""

    kind: str | None = Field(description="a fault kind of the registry; process_exit: a death nobody announced; "
                                         "null: OFF on evidence, no fault announced")
    params: dict[str, Any] = Field(default_factory=dict)
    injected_at: UnixTime | None = Field(None, description="the lab sent the injection")
    activated_at: UnixTime | None = Field(None, description="the replica's acknowledgement (a crash: its death)")
    cleared_at: UnixTime | None = Field(None, description="cleared (a crash: the death, when recovery may start)")


class Window(Message):
    """The stretch of time the timeline covers."""

    start: UnixTime
    end: UnixTime


class FaultLane(Message):
    """The fault's own events."""

    recorded: bool
    events: list[Moment] = Field(default_factory=list)


class Check(Message):
    """One health check of the monitor: ok, slow (answered, after more than `slow_ms`), stale (answered, but it lacks
    events the others applied), timeout (no answer within `timeout_ms`) or failed (refused, error, bad answer)."""

    at: UnixTime
    outcome: CheckOutcome
    latency_ms: float | None = Field(None, ge=0, description="its round trip; null when it did not answer")
    kind: str = Field(description="the observation's kind as recorded: health, timeout, refused, error, ...")


class ChecksLane(Message):
    """Every health check of the monitor on this replica inside the window."""

    recorded: bool
    timeout_ms: float | None = None
    slow_ms: float | None = None
    items: list[Check] = Field(default_factory=list)


class Series(Message):
    """One quantity a detector judges by, over time, against its threshold."""

    measure: Measure
    threshold: float
    above: bool = Field(description="true: it suspects when value >= threshold; false: when value < threshold")
    points: list[Point] = Field(
        default_factory=list, description="[time, value] at each change, in time order, the first one the value when "
                                          "the window starts; a null value: infinite (phi) or not judged yet (too few "
                                          "observations)")
    crossed_at: UnixTime | None = Field(None, description="the first time in the window it reached its threshold")


class Detector(Message):
    """One detector replayed over the recorded observations: its series and when it would have turned OFF."""

    name: str
    params: dict[str, float] = Field(default_factory=dict)
    decides: bool = Field(description="the monitor's configured detector (the others shadow it)")
    series: list[Series]
    off_at: UnixTime | None = Field(None, description="when it would have turned OFF (from the fault's activation on)")
    ttd_ms: float | None = Field(None, ge=0, description="off_at - the fault's activation, in ms")


class DetectorsLane(Message):
    """Every detector's state against its threshold."""

    recorded: bool
    source: Literal["replay"] | None = Field(None, description="replay: computed by replaying the recorded "
                                                                "observations through the monitor's own detectors")
    items: list[Detector] = Field(default_factory=list)


class Transition(Message):
    """A change of the monitor's state of the replica, with its reason as a code and parameters."""

    at: UnixTime
    status: Status
    previous: Status | None = None
    code: str = Field(description="detector, healthy, process_exit, wrong_values, stale, lagging; recorded: an "
                                  "older record's reason, kept as its text")
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(None, description="the reason as recorded (English)")
    source: str | None = None


class MonitorLane(Message):
    """The monitor's ON / OFF / UNKNOWN over the window."""

    recorded: bool
    source: Literal["events", "replay"] | None = Field(None, description="events: the monitor's own event history; "
                                                                          "replay: the recorded observations replayed")
    initial: Status | None = Field(None, description="the state when the window starts")
    transitions: list[Transition] = Field(default_factory=list)


class VoterBucket(Message):
    """The voter's reads involving this replica during [start, start + bucket_ms), by what it did with them."""

    start: UnixTime
    answered: int = Field(0, ge=0, description="answered with this replica (it agreed with the majority)")
    slow: int = Field(0, ge=0, description="excluded as slow")
    wrong: int = Field(0, ge=0, description="excluded as wrong")
    failed: int = Field(0, ge=0, description="excluded as failed (refused, timeout, error, malformed)")
    behind: int = Field(0, ge=0, description="behind the majority (not wrong)")


class VoterLane(Message):
    """The voter's reads, summarised into buckets (empty ones left out)."""

    recorded: bool
    bucket_ms: int | None = Field(None, gt=0)
    buckets: list[VoterBucket] = Field(default_factory=list)


class RecoveryLane(Message):
    """The way back: the process restarted, its first answer, caught up with the log, ON again."""

    recorded: bool
    events: list[Moment] = Field(default_factory=list)


class Lanes(Message):
    """The lanes; one left out was not recorded."""

    fault: FaultLane | None = None
    checks: ChecksLane | None = None
    detectors: DetectorsLane | None = None
    monitor: MonitorLane | None = None
    voter: VoterLane | None = None
    recovery: RecoveryLane | None = None


class Timeline(Message):
    """One episode: one fault on one replica, its lanes over the window, TTD and TTR as spans."""

    version: Literal[1] = VERSION
    replica: int = Field(ge=1)
    fault: Fault
    window: Window
    detector: str | None = Field(None, description="the detector that decides the monitor's ON/OFF")
    ttd: Span | None = None
    ttr: Span | None = None
    lanes: Lanes


def timeline_schema() -> dict[str, Any]:
    """timeline.schema.json: the Timeline model's JSON Schema with its identity."""
    schema = Timeline.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://faultlab.invalid/timeline.schema.json",
            "title": "faultlab episode timeline", **{k: v for k, v in schema.items() if k != "title"}}
