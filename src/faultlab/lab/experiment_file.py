"""An experiment as data: the model of the file `faultlab experiment --file` reads (YAML or JSON).

A file names the system under test (`system`: faultlab's shop by default, or a system built to the study guide's
contract), the load, the steady-state hypothesis (probes with tolerances, checked before and after), the phases
(any fault kind of the registry on any replicas, several at once, staggered, each held and cleared when it says),
repetitions, thresholds (per phase where they differ), lab settings for this run and abort conditions. It is
validated whole before anything starts: every problem at once — the phases' own coherence (names given twice, a
fault starting after its phase's hold) among the others — each with its place in the file (its line, its phase as a
person counts it: `experiment_places.py`). Whether it fits the lab it will run on is `experiment_check.py`. A run's
report.json embeds the experiment as it ran, and is itself a file `experiment_reader.py` reads (the same run again), as
it reads the experiment files.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError

from faultlab.core.i18n import N_, template_of
from faultlab.core.messages import SENTENCES, Message, schema_of, sentence
from faultlab.core.messages.supervisor import LabSettings
from faultlab.core.messages.system import SystemContract, recorded_headers
from faultlab.core.said import Said, say
from faultlab.faults.registry import KindSpec, kinds
from faultlab.lab.experiment_hypothesis import AbortCondition, HttpProbe, ReplicasOn, SteadyState, VotedReads

VERSION: Literal[1] = 1
PHASE_NAME = r"^[a-z][a-z0-9-]{0,31}$"
LOAD_TARGETS = ("mix", "voted", "voted-all", "orders")


class Load(Message):
    """The open-loop load that runs through the whole experiment."""

    target: Literal["mix", "voted", "voted-all", "orders"] = Field(
        "mix", description="mix: voted reads, orders, cancels and restocks; voted: reads of one product; "
                           "voted-all: reads of every product; orders: orders only")
    rate_rps: float = Field(50.0, gt=0, le=5000, description="requests per second, whatever the lab does")
    order_ratio: float = Field(0.2, ge=0, le=1, description="mix: share of orders (cancels and restocks follow)")
    duration_s: float = Field(5.0, gt=0, le=3600, description="each phase's window: a baseline's length, and how "
                                                              "long a fault is held unless its phase says")
    settle_s: float = Field(2.0, ge=0, le=600, description="load before each fault and after the lab is steady again")
    request_timeout_s: float = Field(5.0, gt=0, le=60, description="a request not answered by then failed")


class Timeouts(Message):
    """How long to wait for the monitor's events before a repetition counts as a miss."""

    detect_s: float = Field(15.0, gt=0, le=600, description="from injection to the detection event")
    recover_s: float = Field(30.0, gt=0, le=600, description="from the clear to the recovery event")
    steady_s: float = Field(30.0, gt=0, le=600, description="for the lab to be steady between phases")
    data_s: float = Field(60.0, gt=0, le=600, description="after the run, for the replicas to converge and the "
                                                          "orders to be decided before the data check judges them")


class Thresholds(Message):
    """The guide's "acceptable" values (TTD < 2000 ms, TTR < 1000 ms, success > 95 %, p95 < 500 ms).

    A phase that restarts a process (crash, stop) is held to `max_restart_ttr_ms` instead: the guide itself exempts
    crash from the TTR target (its reference needed a manual restart). A phase meant to lose quorum (two-down) is
    not held to the success-rate and p95 targets; it must instead show the loss ("quorum not reached") and the
    recovery.
    """

    max_ttd_ms: float = Field(2000.0, ge=0)
    max_ttr_ms: float = Field(1000.0, ge=0)
    max_restart_ttr_ms: float = Field(5000.0, ge=0)
    min_success_rate: float = Field(95.0, ge=0, le=100, description="percent")
    max_p95_ms: float = Field(500.0, ge=0)

    def describe(self) -> dict[str, float]:
        return self.model_dump()

    def merged(self, override: PhaseThresholds | None) -> Thresholds:
        """These thresholds with a phase's own values in place of the ones it sets."""
        return self if override is None else self.model_copy(update=override.model_dump(exclude_none=True))

    def check(self, phase: PhaseSpec, ttd_ms: float | None, ttr_ms: float | None, load: dict[str, Any],
              quorum: dict[str, Any] | None = None, unmeasured: Collection[str] = ()) -> list[Said]:
        """The targets this phase result misses (empty when it meets all that apply to it), each a recorded sentence
        (core/said.py). `unmeasured`: what the system lacks to measure (a monitor: no TTD nor TTR; a restart: no
        TTR), so not held to."""
        missed: list[Said] = []
        if phase.has_fault and "monitor" not in unmeasured:
            if ttd_ms is None:
                missed.append(say("not_detected"))
            elif ttd_ms > self.max_ttd_ms:
                missed.append(say("ttd_over", ttd_ms=round(ttd_ms), limit_ms=round(self.max_ttd_ms)))
        if phase.has_fault and not {"monitor", "restart"} & set(unmeasured):
            limit = self.max_restart_ttr_ms if phase.restarts_process else self.max_ttr_ms
            if ttr_ms is None:
                missed.append(say("not_recovered"))
            elif ttr_ms > limit:
                missed.append(say("ttr_over", ttr_ms=round(ttr_ms), limit_ms=round(limit)))
        if phase.expect_quorum_loss:
            if not quorum or not quorum.get("lost"):
                missed.append(say("quorum_loss_not_seen"))
            elif not quorum.get("regained"):
                missed.append(say("quorum_not_regained"))
            return missed
        rate = load.get("success_rate")
        if rate is None:
            missed.append(say("no_request_completed"))
        elif rate < self.min_success_rate:
            missed.append(say("success_under", rate=round(rate, 2), limit=self.min_success_rate))
        p95 = load.get("p95_latency_ms")
        if p95 is not None and p95 > self.max_p95_ms:
            missed.append(say("p95_over", p95_ms=round(p95), limit_ms=round(self.max_p95_ms)))
        return missed


class PhaseThresholds(Message):
    """A phase's own thresholds: each one given replaces the experiment's."""

    max_ttd_ms: float | None = Field(None, ge=0)
    max_ttr_ms: float | None = Field(None, ge=0)
    max_restart_ttr_ms: float | None = Field(None, ge=0)
    min_success_rate: float | None = Field(None, ge=0, le=100)
    max_p95_ms: float | None = Field(None, ge=0)


# ---- faults and phases -----------------------------------------------------------------------------------


class StepTiming(Message):
    """Where a fault of a phase goes and when: replicas, start after the phase's injection, how long it is held."""

    replicas: list[Annotated[int, Field(ge=1, le=9)]] = Field(min_length=1, description="the replicas it breaks")
    start_s: float = Field(0.0, ge=0, le=3600, description="seconds after the phase's injection moment (staggered "
                                                           "starts)")
    hold_s: float | None = Field(None, gt=0, le=3600, description="how long it is held before it is cleared "
                                                                  "(default: until the phase's hold ends)")

    @field_validator("replicas")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(N_("must not name a replica twice"))
        return value

    @property
    def spec(self) -> KindSpec:
        return kinds()[self.kind]  # type: ignore[attr-defined]

    def fault_params(self) -> dict[str, Any]:
        """The fault's own parameters (no kind, no timing), as its target's API takes them."""
        return self.model_dump(exclude={"kind", "replicas", "start_s", "hold_s"}, exclude_none=True)


def _step_model(spec: KindSpec) -> type[BaseModel]:
    name = spec.params.__name__.removesuffix("Params") + "Step"
    model: type[BaseModel] = create_model(name, __base__=(spec.params, StepTiming))
    model.__doc__ = f"A {spec.kind} fault in a phase: {spec.summary}."
    return model


STEP_MODELS = {kind: _step_model(spec) for kind, spec in kinds().items()}
# The registry's kinds, known at run time: typing's Union takes a tuple, `|` does not.
FaultStep = Annotated[Union[tuple(STEP_MODELS.values())], Field(discriminator="kind")]  # type: ignore  # noqa: UP007


class PhaseSpec(Message):
    """One step of the experiment: faults (or none: a baseline) on some replicas, and the checks that apply."""

    name: str = Field(pattern=PHASE_NAME)
    description: str = ""
    fault: FaultStep | None = Field(None, description="one fault (or use faults: several)")  # type: ignore[valid-type]
    faults: list[FaultStep] = Field(default_factory=list)  # type: ignore[valid-type]
    hold_s: float | None = Field(None, gt=0, le=3600, description="seconds the faults are held after the injection "
                                                                  "(default: load.duration_s)")
    expect_quorum_loss: bool = Field(False, description="the voter must answer 'quorum not reached' and then reach "
                                                        "quorum again (instead of the success-rate and p95 targets)")
    thresholds: PhaseThresholds | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PhaseSpec:
        if self.fault is not None and self.faults:
            raise ValueError(N_("give fault (one) or faults (several), not both"))
        return self

    @property
    def steps(self) -> list[Any]:
        return [self.fault] if self.fault is not None else list(self.faults)

    @property
    def has_fault(self) -> bool:
        return bool(self.steps)

    @property
    def restarts_process(self) -> bool:
        return any(step.spec.restarts_process for step in self.steps)

    @property
    def needs_netns(self) -> bool:
        return any(step.spec.site.name == "network" for step in self.steps)

    @property
    def replicas(self) -> tuple[int, ...]:
        return tuple(sorted({r for step in self.steps for r in step.replicas}))

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Experiment(Message):
    """A whole experiment: what `faultlab experiment --file` runs."""

    version: Literal[1] = Field(VERSION, description="the format's version")
    title: str = ""
    description: str = ""
    seed: int = Field(1, ge=0, le=2**31, description="seeds the load mix and every fault's randomness")
    repeat: int = Field(3, ge=1, le=100, description="repetitions of the phase list")
    reset: bool = Field(True, description="start from fresh data (initial stock, empty log), as `faultlab reset`")
    system: SystemContract | None = Field(None, description="the system under test: shop (faultlab's own, the "
                                                            "default), guide (a system built to the study guide's "
                                                            "contract), or a mapping with the guide settings that "
                                                            "differ (docs/your-system.md)")
    load: Load = Field(default_factory=Load)
    steady_state: SteadyState = Field(default_factory=SteadyState)
    lab_settings: LabSettings = Field(default_factory=LabSettings,
                                      description="the lab's settings for this run (the services restart with them "
                                                  "through the reset, and with the lab's own after the run)")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    abort: list[AbortCondition] = Field(default_factory=list, description="stop conditions: the run stops and rolls "
                                                                          "back when one holds")
    phases: list[PhaseSpec] = Field(min_length=1)

    @model_validator(mode="wrap")
    @classmethod
    def _coherent(cls, data: Any, handler: Any) -> Any:
        """The phases' coherence, found together with every other problem (not after them)."""
        found = coherence_errors(data)
        try:
            experiment = handler(data)
        except ValidationError as exc:
            if not found:
                raise
            raise ValidationError.from_exception_data(cls.__name__, [*_details(exc), *found]) from None
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return experiment

    def hold_s(self, phase: PhaseSpec) -> float:
        return phase.hold_s or self.load.duration_s

    def thresholds_of(self, phase: PhaseSpec) -> Thresholds:
        return self.thresholds.merged(phase.thresholds)

    @property
    def needs_netns(self) -> bool:
        return any(p.needs_netns for p in self.phases)

    def as_run(self) -> dict[str, Any]:
        """The experiment as report.json embeds it (every default written out; a header's secret value never)."""
        data = self.model_dump(mode="json", exclude_none=True)
        if self.system is not None:
            data["system"]["headers"] = recorded_headers(self.system.headers)
            if self.system.proxy.token is not None:
                data["system"]["proxy"]["token"] = recorded_headers({"token": self.system.proxy.token})["token"]
        return data


NAME_TWICE = sentence("phase_name_twice", N_("phase {first} has this name too: each phase needs its own"))
STARTS_LATE = sentence("fault_starts_late", N_("starts at {start_s} s, when the phase's hold ({hold_s} s) is over: "
                                               "start it earlier, or give the phase a longer hold_s"))


def coherence_errors(data: Any) -> list[InitErrorDetails]:
    """What an experiment's phases as written get wrong together: a name already taken by an earlier phase, a fault
    starting at or after its phase's hold (the phase's hold_s, else load.duration_s: unknown while that is not
    valid). Each phase valid on its own is checked, whatever else is wrong."""
    phases = data.get("phases") if isinstance(data, dict) else None
    if not isinstance(phases, list):
        return []
    duration_s = _duration_s(data.get("load"))
    found: list[InitErrorDetails] = []
    first: dict[str, int] = {}
    for i, item in enumerate(phases):
        name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
        if isinstance(name, str) and name in first:
            found.append(InitErrorDetails(type=_custom(NAME_TWICE, first=first[name] + 1), loc=("phases", i, "name"),
                                          input=name))
        elif isinstance(name, str):
            first[name] = i
        try:
            phase = PhaseSpec.model_validate(item)
        except ValidationError:
            continue  # its own problems come from validating the phases
        hold = phase.hold_s or duration_s
        for j, step in enumerate(phase.steps):
            if hold is not None and step.start_s >= hold:
                where = ("fault",) if phase.fault is not None else ("faults", j)
                found.append(InitErrorDetails(type=_custom(STARTS_LATE, start_s=step.start_s, hold_s=hold),
                                              loc=("phases", i, *where, "start_s"), input=step.start_s))
    return found


def _duration_s(load: Any) -> float | None:
    """load.duration_s as written (the default when it is left out), None when it is not valid."""
    if isinstance(load, Load):
        return load.duration_s
    given = {"duration_s": load["duration_s"]} if isinstance(load, dict) and "duration_s" in load else {}
    try:
        return Load.model_validate(given).duration_s
    except ValidationError:
        return None


def _custom(code: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(code, template_of(SENTENCES[code], ctx), ctx)


def _details(exc: ValidationError) -> list[InitErrorDetails]:
    """A validation's errors as they can be raised again, together with others."""
    details = []
    for error in exc.errors():
        kind: Any = error["type"]
        ctx = error.get("ctx")
        try:
            PydanticKnownError(kind, ctx)
        except KeyError:  # a custom error: raised again with its message and context
            kind = PydanticCustomError(kind, error["msg"], ctx)
        detail = InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])
        if ctx is not None:
            detail["ctx"] = ctx
        details.append(detail)
    return details


def experiment_schema() -> dict[str, Any]:
    """The experiment file's JSON Schema (experiments/experiment.schema.json is this, written out)."""
    schema = dict(schema_of(Experiment))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://faultlab.invalid/experiment.schema.json",
            "title": "faultlab experiment file", **{k: v for k, v in schema.items() if k != "title"}}


__all__ = ["AbortCondition", "Experiment", "HttpProbe", "Load", "PhaseSpec", "PhaseThresholds", "ReplicasOn",
           "SteadyState", "Thresholds", "Timeouts", "VotedReads", "experiment_schema"]
