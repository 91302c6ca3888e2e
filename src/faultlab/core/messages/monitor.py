"""The monitor's messages: evidence about a replica (observations), instance states and fault episodes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from faultlab.core.evidence import OBSERVATION_KINDS
from faultlab.core.messages import Message, Open

SOURCE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
FAULT_KIND_PATTERN = r"^[a-z_-]{1,32}$"
MAX_OBSERVATIONS = 10_000
UNIX_TIME: dict[str, Any] = {"gt": 0, "lt": 1e11}
ObservationKind = Literal[tuple(sorted(OBSERVATION_KINDS))]  # type: ignore[valid-type]


class ObservedFault(Message):
    """fault_injected: the fault as the replica (or the supervisor) describes it."""

    kind: str | None = Field(None, pattern=FAULT_KIND_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    activated_at: float | None = None


class Observation(Message):
    """One piece of evidence about a replica, as the voter, the supervisor or a replica reports it.

    Strings must not contain NUL (PostgreSQL refuses it); fields beyond these are kept as detail.
    """

    model_config = ConfigDict(**{**Message.model_config, "extra": "allow"})

    replica: int = Field(ge=1, description="a replica of this lab")
    kind: ObservationKind  # type: ignore[valid-type]
    at: float = Field(**UNIX_TIME, description="UNIX time in seconds when it was seen")
    ok: bool | None = None
    source: str | None = Field(None, pattern=SOURCE_PATTERN, description="who saw it")
    count: int = Field(1, ge=1, le=1_000_000)
    fault: ObservedFault | None = None
    caught_up: bool | None = None
    code: int | None = Field(None, description="process_exit: the exit code")
    reason: str | None = Field(None, max_length=64, description="set_aside: why the record was set aside (other "
                               "epoch, seen before, bad signature, not signed, not JSON, malformed, ...)")
    sent_at: float | None = Field(None, **UNIX_TIME, description="when the request this failure is about was sent "
                                  "(UNIX s): a failure about a request sent before the replica's last fault was "
                                  "cleared is ignored")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):  # PostgreSQL text and jsonb refuse NUL: one such row would block every later audit write
            raise ValueError("observations must not contain NUL characters")
        return data

    @field_validator("replica")
    @classmethod
    def _a_replica(cls, value: int, info: ValidationInfo) -> int:
        replicas = (info.context or {}).get("replica_ids")
        if replicas is not None and value not in replicas:
            raise ValueError(f"must be one of {replicas}")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class ObservationReport(Message):
    """`POST /reports`: evidence from the voter, the supervisor and the replicas (all checked before any is used)."""

    observations: list[Observation] = Field(max_length=MAX_OBSERVATIONS)


class Episode(Open):
    """A fault's life on one replica, with the timestamps of the events that define TTD and TTR."""

    replica: int
    fault_kind: str | None
    fault: dict[str, Any] | None = None
    activated_at: float | None
    detected_at: float | None
    detected_by: str | None = None
    cleared_at: float | None = None
    recovered_at: float | None = None
    ttd_ms: float | None
    ttr_ms: float | None
    ttd_ms_by_detector: dict[str, float | None] | None = None


class GuideEpisode(Episode):
    """An episode with the guide's failure_audit fields beside faultlab's."""

    service_name: Literal["inventory-svc"] = "inventory-svc"
    instance_id: str | None = None
    failure_type: str | None = Field(None, description="the guide's name of the fault")
    resolved_at: float | None = None


class Instance(Open):
    """A replica's state in the monitor, with the evidence behind it."""

    replica: int
    service_name: Literal["inventory-svc"] | None = None
    instance_id: str = Field(description='the guide\'s instance id: "1" for inventory-svc-1')
    instance_name: str | None = Field(None, description="inventory-svc-N")
    status: Literal["ON", "OFF", "UNKNOWN"]
    since: float | None = None
    reason: str | None = None
    source: str | None = None
    last_check: float | None = None
    caught_up: bool | None = None
    value_suspect: bool | None = None
    open_episode: GuideEpisode | None = None
    set_aside: int | None = Field(None, description="order-events records the replica reported set aside")
    set_aside_by_reason: dict[str, int] | None = Field(None, description="the same by reason: other epoch (written "
                                                       "before the lab's last reset), bad signature, not signed, ...")
    invalid_events: int | None = Field(None, description="authentic events the replica consumed as INVALID (unknown "
                                                         "type, bad field): their seqs taken, nothing changed")
