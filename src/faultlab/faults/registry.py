"""The fault registry: one entry per kind — replica, network and process faults alike — registered by its own module.

An entry gives everything the lab needs to know about a kind: its parameters (a pydantic model keyed on `kind`),
where it is applied and how it is undone (its target's HTTP calls), its behaviour, the words that describe it, its
colour in charts and how the command line spells its parameters. The CLI, the dashboard (which is served the
registry as JSON), the experiment runner, the OpenAPI documents and the report read it from here; adding a kind is
one module in `faults/` (or `faults/network/`) that calls `register`, and its test.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

from faultlab.core.config import Settings
from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.faults.base import FaultParams


@dataclass(frozen=True)
class Call:
    """One HTTP request to make (the CLI, the dashboard and the runner each send it with their own client)."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Target:
    """Where a kind is applied and how it is undone: the service that owns it and the answer's timestamps."""

    name: str
    injected_event: str  # the fault timeline's name of the injection / of the clear
    cleared_event: str
    activated_field: tuple[str, ...]  # where the answer says when it took effect
    cleared_field: tuple[str, ...]

    def inject(self, settings: Settings, kind: str, replica: int | None, params: dict[str, Any]) -> Call:
        raise NotImplementedError

    def clear(self, settings: Settings, kind: str, replica: int) -> Call:
        raise NotImplementedError

    @staticmethod
    def read(answer: Any, path: tuple[str, ...]) -> Any:
        for key in path:
            answer = answer.get(key) if isinstance(answer, dict) else None
        return answer


def _supervisor(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.supervisor_port}"


class ReplicaTarget(Target):
    """The replica applies it itself: `POST /faults` on the replica, `DELETE /faults?kind=` to clear."""

    def inject(self, settings: Settings, kind: str, replica: int | None, params: dict[str, Any]) -> Call:
        assert replica is not None
        return Call("POST", f"{settings.replica_url(replica)}/faults", {"kind": kind, **params})

    def clear(self, settings: Settings, kind: str, replica: int) -> Call:
        return Call("DELETE", f"{settings.replica_url(replica)}/faults?{urlencode({'kind': kind})}")


class NetworkTarget(Target):
    """The supervisor applies it from outside the replica (a namespace lab): `POST /netfaults`, `DELETE /netfaults`."""

    def inject(self, settings: Settings, kind: str, replica: int | None, params: dict[str, Any]) -> Call:
        body = {"kind": kind, **params}
        if replica is not None:
            body["instance"] = replica
        return Call("POST", f"{_supervisor(settings)}/netfaults", body, 15.0)

    def clear(self, settings: Settings, kind: str, replica: int) -> Call:
        return Call("DELETE", f"{_supervisor(settings)}/netfaults?{urlencode({'instance': replica, 'kind': kind})}",
                    None, 15.0)


class ProcessTarget(Target):
    """The supervisor stops the replica's process and keeps it stopped: `POST /processes/inventory-N/stop`, `start`."""

    def inject(self, settings: Settings, kind: str, replica: int | None, params: dict[str, Any]) -> Call:
        return Call("POST", f"{_supervisor(settings)}/processes/inventory-{replica}/stop", None, 15.0)

    def clear(self, settings: Settings, kind: str, replica: int) -> Call:
        return Call("POST", f"{_supervisor(settings)}/processes/inventory-{replica}/start", None, 15.0)


REPLICA = ReplicaTarget("replica", "fault_injected", "fault_cleared", ("fault", "activated_at"), ("cleared_at",))
NETWORK = NetworkTarget("network", "fault_injected", "fault_cleared", ("fault", "activated_at"), ("cleared_at",))
PROCESS = ProcessTarget("process", "process_stopped", "process_started", ("stopping_at",), ("started_at",))


@dataclass(frozen=True)
class GuidePhase:
    """The phase of the guide's experiment that shows a kind: its name, the replicas it breaks, its parameters."""

    name: str
    replicas: tuple[int, ...]
    description: str  # English, as experiments/guide.yaml writes it
    params: dict[str, Any] = field(default_factory=dict)
    expect_quorum_loss: bool = False

    def as_phase(self, kind: str) -> dict[str, Any]:
        """The phase as an experiment file writes it."""
        phase: dict[str, Any] = {"name": self.name, "fault": {"kind": kind, **self.params, "replicas": list(self.replicas)},
                                 "description": self.description}
        if self.expect_quorum_loss:
            phase["expect_quorum_loss"] = True
        return phase


@dataclass(frozen=True)
class KindSpec:
    """Everything about one fault kind."""

    params: type[FaultParams]
    target: Target
    summary: str  # one line, an English msgid (N_): the CLI's help, the dashboard's hint, the docs
    inverse: str  # how it is undone, an English msgid
    colour: str  # its colour in charts (fault periods shaded in report.html, the comparison page)
    behaviour: Any = None  # replica: its `Fault` class; network: a builder of the rule the supervisor applies
    aliases: tuple[str, ...] = ()  # other names the APIs accept (the guide's)
    guide_name: str | None = None  # the name the guide's replicas reported as `failure_type`
    clears: bool = True  # False: nothing to undo by hand (a crashed replica is restarted by the supervisor)
    restarts_process: bool = False  # recovery includes a process start: held to max_restart_ttr_ms
    example: dict[str, Any] = field(default_factory=dict)  # typical parameters: CLI help and the form's defaults
    cli: dict[str, Callable[[str], Any]] = field(default_factory=dict)  # command-line parsers of non-scalar params
    order: int = 100  # where it stands among the kinds and the guide's phases (the guide's kinds first)
    phase: GuidePhase | None = None  # its phase in the guide's experiment (None: not one of them)
    study_hold: float | None = None  # in the detector study: its hold as a multiple of the study's (None: not studied)

    @property
    def kind(self) -> str:
        return str(self.params.model_fields["kind"].default)

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()

    def fields(self) -> list[dict[str, Any]]:
        """Each parameter: name, JSON type, default, limits and description (from the model)."""
        schema = self.schema()
        required = set(schema.get("required", []))
        out = []
        for name, prop in schema.get("properties", {}).items():
            if name == "kind":
                continue
            kinds = [v.get("type") for v in prop.get("anyOf", [prop]) if v.get("type") not in (None, "null")]
            out.append({"name": name, "type": kinds[0] if kinds else "string", "required": name in required,
                        "default": self.example.get(name, prop.get("default")),
                        "minimum": _bound(prop, "minimum"), "maximum": _bound(prop, "maximum"),
                        "pattern": _bound(prop, "pattern"), "description": prop.get("description", "")})
        return out

    def form_fields(self) -> list[dict[str, Any]]:
        """The dashboard's inputs for this kind: its scalar parameters (a network kind's target is the replica)."""
        return [f for f in self.fields() if f["type"] in ("number", "integer", "string") and f["name"] != "instance"]

    def describe(self, gettext: Callable[[str], str] = str) -> dict[str, Any]:
        """The entry as JSON (what the dashboard is served), its words in one language."""
        return {"kind": self.kind, "target": self.target.name, "summary": gettext(self.summary),
                "inverse": gettext(self.inverse), "colour": self.colour, "aliases": list(self.aliases),
                "clears": self.clears, "restarts_process": self.restarts_process, "example": self.example,
                "fields": [{**f, "description": gettext(f["description"]) if f["description"] else ""}
                           for f in self.fields()],
                "form": [f["name"] for f in self.form_fields()]}


def _bound(prop: dict[str, Any], key: str) -> Any:
    for variant in prop.get("anyOf", [prop]):
        if key in variant:
            return variant[key]
    return None


_KINDS: dict[str, KindSpec] = {}
PACKAGES = ("faultlab.faults", "faultlab.faults.network")


def register(spec: KindSpec) -> KindSpec:
    """Add a kind (each kind's module calls this once, at import)."""
    kind = spec.kind
    if kind in _KINDS and _KINDS[kind] is not spec:
        raise ValueError(f"fault kind {kind!r} registered twice")
    _KINDS[kind] = spec
    return spec


@cache
def _discover() -> None:
    """Import every module of the fault packages: each registers its kind."""
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")


def kinds() -> dict[str, KindSpec]:
    """Every registered kind, in the order the kinds declare (the guide's first), then by name."""
    _discover()
    return dict(sorted(_KINDS.items(), key=lambda item: (item[1].order, item[0])))


def studied() -> dict[str, KindSpec]:
    """The kinds the detector study injects, in order."""
    return {k: s for k, s in kinds().items() if s.study_hold is not None}


def of_target(target: Target) -> dict[str, KindSpec]:
    return {k: s for k, s in kinds().items() if s.target is target}


def aliases() -> dict[str, str]:
    """Every other accepted name of a kind → the kind."""
    return {alias: spec.kind for spec in kinds().values() for alias in spec.aliases}


def lookup(name: str, target: Target | None = None) -> KindSpec:
    """The kind of a name or alias (of one target when given); `Refused` naming the known ones otherwise."""
    known = kinds() if target is None else of_target(target)
    spec = known.get(aliases().get(name, name))
    if spec is None:
        raise Refused([Problem("kind", N_("unknown fault kind {kind} (known: {known})"),
                               {"kind": repr(name)[:40], "known": ", ".join(known)})])
    return spec


def parse_params(data: dict[str, Any], target: Target | None = None,
                 context: dict[str, Any] | None = None) -> FaultParams:
    """A fault's parameters from a mapping with a `kind` (an alias works too); `Refused` with every problem."""
    kind = data.get("kind")
    if not isinstance(kind, str):
        known = kinds() if target is None else of_target(target)
        raise Refused([Problem("kind", N_("is required (one of: {known})"), {"known": ", ".join(known)})])
    spec = lookup(kind, target)
    params: FaultParams = parse(spec.params, {**data, "kind": spec.kind}, context)
    return params


def colours() -> dict[str, str]:
    return {kind: spec.colour for kind, spec in kinds().items()}


__all__ = ["NETWORK", "PROCESS", "REPLICA", "Call", "GuidePhase", "KindSpec", "Target", "aliases", "colours", "kinds",
           "lookup", "of_target", "parse_params", "register", "studied"]


def guide_fault_name(kind: str) -> str:
    """A fault kind under the name the guide's replicas reported as `failure_type` (the registry's `guide_name`)."""
    spec = kinds().get(kind)
    return (spec.guide_name if spec is not None else None) or kind
