"""What every failure detector sees (a Sample), what it answers (suspects / trusts), and how its parameters are told."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol


class Sample(NamedTuple):
    """One observation as a detector sees it: when, whether it went well, who saw it, and the probe's round trip.

    `source` is "monitor" for the monitor's own health probes (the heartbeats of an accrual detector); the voter,
    error-queue and the supervisor are other sources. `count` > 1 stands for a run of equal outcomes at `at`
    (the voter reports a run of agreements as one observation). `late` marks a failure that is lateness (a
    timeout, a slow answer) rather than an error: a loaded machine makes those too. A tuple: one is made per
    observation.
    """

    at: float
    ok: bool
    source: str = "monitor"
    rtt_ms: float | None = None
    count: int = 1  # type: ignore[assignment]  # a field named like tuple.count; nothing calls the method
    late: bool = False

    @property
    def probe(self) -> bool:
        return self.source == "monitor"


class Gauge(NamedTuple):
    """One quantity a detector judges by, against the threshold it is judged at: `above` suspects when `value >=
    threshold` (a count of failures, phi), otherwise when `value < threshold` (a success rate). `value` is None
    while the detector cannot judge yet (too few observations); it may be infinite (phi)."""

    measure: str
    value: float | None
    threshold: float
    above: bool = True


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a detector: its default, the bounds a setting must respect, and the values the study tries."""

    default: float
    low: float
    high: float
    grid: tuple[float, ...] = ()
    integer: bool = True
    help: str = ""

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number")  # pydantic reports ValueError, not TypeError
        if self.integer and int(value) != value:
            raise ValueError(f"{name} must be a whole number")
        if not self.low <= value <= self.high:
            raise ValueError(f"{name} must be between {self.low:g} and {self.high:g}")
        return int(value) if self.integer else float(value)


class Detector(Protocol):
    """Fed every observation of one replica, in arrival order; asked after each one."""

    name: ClassVar[str]
    PARAMS: ClassVar[dict[str, Param]]

    def observe(self, sample: Sample) -> None: ...

    def suspects(self) -> bool:
        """Enough failure evidence (as of the last sample) to mark the replica OFF."""
        ...

    def trusts(self) -> bool:
        """Enough success evidence (as of the last sample) to mark the replica ON again."""
        ...

    def reset(self) -> None:
        """Forget everything (a new process: its history says nothing about it)."""
        ...

    def params(self) -> dict[str, float]: ...

    def gauges(self) -> list[Gauge]:
        """What it judges by as of the last sample, each against its threshold (the episode timeline draws them)."""
        ...


def check_params(name: str, spec: dict[str, Param], given: dict[str, Any]) -> dict[str, float]:
    """The detector's full parameter set: defaults overridden by `given`, each checked; unknown names refused."""
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ValueError(f"detector {name!r} has no parameter {', '.join(unknown)} (it has {', '.join(spec)})")
    return {key: p.check(key, given[key]) if key in given else p.default for key, p in spec.items()}
