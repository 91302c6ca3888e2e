"""An experiment checked against the lab it will run on: the replicas, products and nodes its faults name, the
network namespaces its network faults need, a quorum loss its replicas can cause, a steady state the lab can hold.

What the check knows about the lab is one small typed object, `LabFacts`, built in one place — from the running lab
(the supervisor's /processes and /netfaults, and the lab's settings) or from the settings of a lab not yet started.
Another kind of system under test fills the same object its own way. The check itself, `lab_problems(experiment,
facts)`, is a pure function: `faultlab experiment --check` and the command's run call it before anything starts,
and the runner (`ExperimentRunner.check_preconditions`) again before anything is touched. `phase_problems` checks one
phase, so the phases of a file that is otherwise invalid are checked too (every problem at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.codes import message
from faultlab.core.config import Settings
from faultlab.core.messages import InputPath, Problem, Refused, place_text
from faultlab.faults.network.partition import NODE_NAMES
from faultlab.faults.registry import NETWORK
from faultlab.lab.experiment_file import Experiment, PhaseSpec, SteadyState
from faultlab.lab.experiment_hypothesis import ReplicasOn
from faultlab.lab.experiment_places import Places
from faultlab.lab.experiment_reader import ExperimentRefused, Source, read_experiment

# The problems an experiment can have on a lab, each a code of core/codes.py (an abort that names them says them in
# the reader's language).
NO_REPLICA, NO_PRODUCT, NO_NODE = message("no_replica"), message("no_product"), message("no_node")
NO_NETNS, KEEPS_QUORUM, NEVER_ON = message("no_netns"), message("keeps_quorum"), message("never_on")


@dataclass(frozen=True)
class LabFacts:
    """What an experiment needs to know about the system it runs on."""

    replica_ids: tuple[int, ...]
    product_ids: tuple[str, ...] | None  # None: the system does not say (product ids are not checked)
    netns: bool  # network faults can be applied: each service in its own network namespace
    nodes: tuple[str, ...] = ()  # what a partition's groups may name

    @classmethod
    def of_settings(cls, settings: Settings, netns: bool) -> LabFacts:
        """The lab these settings start (`netns`: started with each service in its own network namespace)."""
        replicas = tuple(settings.replica_ids)
        return cls(replicas, tuple(settings.initial_stock), netns, _nodes(replicas))

    @classmethod
    def of_answers(cls, processes: Mapping[str, Any], netfaults: Mapping[str, Any] | None,
                   settings: Settings) -> LabFacts:
        """The running lab from its supervisor's answers (/processes, /netfaults) and its settings (the products)."""
        replicas = tuple(sorted({int(p["replica"]) for p in processes.get("processes") or []
                                 if isinstance(p, Mapping) and isinstance(p.get("replica"), int)}))
        netns = bool(netfaults.get("netns")) if isinstance(netfaults, Mapping) else False
        return cls(replicas, tuple(settings.initial_stock), netns, _nodes(replicas))

    @classmethod
    async def of_running_lab(cls, client: LabClient) -> LabFacts:
        """The running lab `client` reaches; `ApiCallError` (`Unreachable`) when its supervisor does not answer."""
        processes = await client.processes()
        try:
            netfaults = await client.request("GET", client.url("supervisor", "/netfaults"))
        except ApiCallError:  # a supervisor without the network API: no namespaces
            netfaults = None
        return cls.of_answers(processes, netfaults, client.settings)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _nodes(replicas: tuple[int, ...]) -> tuple[str, ...]:
    return (*(f"inventory-{r}" for r in replicas), *NODE_NAMES)


def _listed(values: tuple[Any, ...] | None) -> str:
    return ", ".join(map(str, values or ())) or "-"


def phase_problems(index: int, phase: PhaseSpec, facts: LabFacts) -> list[Problem]:
    """What phase number `index` (from 0) needs that the lab lacks."""
    found: list[Problem] = []

    def problem(path: InputPath, message: str, **params: Any) -> None:
        full = ("phases", index, *path)
        found.append(Problem(place_text(full), message, params, full))

    for j, step in enumerate(phase.steps):
        at: InputPath = ("fault",) if phase.fault is not None else ("faults", j)
        for k, replica in enumerate(step.replicas):
            if replica not in facts.replica_ids:
                problem((*at, "replicas", k), NO_REPLICA, replica=replica, replicas=_listed(facts.replica_ids))
        product = getattr(step, "product_id", None)
        if product is not None and facts.product_ids is not None and product not in facts.product_ids:
            problem((*at, "product_id"), NO_PRODUCT, product=product, products=_listed(facts.product_ids))
        if step.spec.site is NETWORK and not facts.netns:
            problem((*at, "kind"), NO_NETNS, kind=step.kind)
        for g, group in enumerate(getattr(step, "groups", None) or []):
            for n, node in enumerate(group):
                if facts.nodes and node not in facts.nodes:
                    problem((*at, "groups", g, n), NO_NODE, node=node, nodes=_listed(facts.nodes))
    total = len(facts.replica_ids)
    needed = total - (total // 2 + 1) + 1  # the fewest faulty replicas that leave no majority
    down = len([r for r in phase.replicas if r in facts.replica_ids])
    if phase.expect_quorum_loss and total and down < needed:
        problem(("expect_quorum_loss",), KEEPS_QUORUM, down=down, total=total, needed=needed)
    return found


def steady_state_problems(steady: SteadyState, facts: LabFacts) -> list[Problem]:
    """A steady state the lab can never reach."""
    found = []
    for k, probe in enumerate(steady.probes):
        if isinstance(probe, ReplicasOn) and probe.min_on is not None and probe.min_on > len(facts.replica_ids):
            path: InputPath = ("steady_state", "probes", k, "min_on")
            found.append(Problem(place_text(path), NEVER_ON, {"total": len(facts.replica_ids),
                                                              "min_on": probe.min_on}, path))
    return found


def lab_problems(experiment: Experiment, facts: LabFacts) -> list[Problem]:
    """Everything the experiment needs that the lab lacks, each problem at its place in the experiment."""
    found = steady_state_problems(experiment.steady_state, facts)
    for index, phase in enumerate(experiment.phases):
        found.extend(phase_problems(index, phase, facts))
    return found


def data_problems(data: Any, facts: LabFacts) -> list[Problem]:
    """`lab_problems` for an experiment file that is not valid: its steady state and each of its phases that are
    valid on their own."""
    if not isinstance(data, Mapping):
        return []
    found: list[Problem] = []
    try:
        found.extend(steady_state_problems(SteadyState.model_validate(data.get("steady_state") or {}), facts))
    except ValidationError:
        pass
    phases = data.get("phases")
    for index, item in enumerate(phases if isinstance(phases, list) else []):
        try:
            phase = PhaseSpec.model_validate(item)
        except ValidationError:
            continue
        found.extend(phase_problems(index, phase, facts))
    return found


def check_experiment(path: Path | None, build: Callable[[Experiment | None], Experiment],
                     facts: LabFacts) -> tuple[Experiment | None, Source | None, list[Problem]]:
    """The experiment a command runs — a file's (or none), built by `build` (the command line's options applied) —
    checked whole and against the lab: (the experiment, or None when it is not valid; its source; every problem,
    each located in the file: its line, its phase as a person counts it, in the order of the file)."""
    base, source, places = None, None, Places()
    if path is not None:
        try:
            base, source, places = read_experiment(path)
        except ExperimentRefused as exc:
            return None, None, exc.places.locate_all([*exc.found, *data_problems(exc.data, facts)])
        except Refused as exc:  # not readable, not YAML: nothing to locate
            return None, None, exc.problems
    try:
        experiment = build(base)
    except ExperimentRefused as exc:  # an option made it invalid: no line outside the phases (the option set it)
        found = [*exc.found, *data_problems(exc.data, facts)]
        return None, source, places.locate_all(found, exc.places.phases, lines_outside_phases=False)
    except Refused as exc:  # --phases
        return None, source, exc.problems
    names = [phase.name for phase in experiment.phases]
    return experiment, source, places.locate_all(lab_problems(experiment, facts), names)


__all__ = ["LabFacts", "check_experiment", "data_problems", "lab_problems", "phase_problems",
           "steady_state_problems"]
