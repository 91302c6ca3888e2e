"""The guide's experiment as data: its named phases, and the experiment `faultlab experiment` runs without a file.

The phases are the baseline and the phase each fault kind declares in the registry, in the kinds' order.

`experiments/guide.yaml` is this experiment written out (a test keeps them equal). The command-line options
(`--phases`, `--repeat`, `--rate`, ...) build the same model, from this experiment or from a file's.
"""

from __future__ import annotations

from typing import Any

from faultlab.core.i18n import N_, NP_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.faults.registry import kinds
from faultlab.lab.experiment_file import Experiment, PhaseSpec, Thresholds
from faultlab.lab.experiment_places import Places, phase_names
from faultlab.lab.experiment_reader import ExperimentRefused

BASELINE = {"name": "baseline", "description": "no fault: the reference latency, throughput and success rate"}
# The baseline, then each kind's own phase in the kinds' order (the fault registry: a kind declares its phase).
_PHASES: list[dict[str, Any]] = [BASELINE, *(spec.phase.as_phase(kind) for kind, spec in kinds().items() if spec.phase)]
PHASES: dict[str, PhaseSpec] = {p["name"]: parse(PhaseSpec, p) for p in _PHASES}
DEFAULT_PHASES = tuple(name for name, phase in PHASES.items() if not phase.needs_netns)  # the guide's phases
NETWORK_PHASES = tuple(name for name, phase in PHASES.items() if phase.needs_netns)
# On a system built to the guide's contract: the guide's own fault kinds (its /inject-failure), and two-down.
GUIDE_SYSTEM_PHASES = ("baseline", "crash", "latency", "intermittent", "incorrect", "two-down")
GUIDE_TITLE = N_("The study guide's experiment")  # said in the reader's language where a page shows a run's title
GUIDE_DESCRIPTION = ("The guide's phases (baseline, crash, latency, intermittent, incorrect) plus stale, hang and "
                     "two-down, three repetitions each under an open-loop mix of voted reads and orders.")


def select_phases(names: str | list[str] | None, netns: bool = False,
                  catalogue: dict[str, PhaseSpec] | None = None) -> list[PhaseSpec]:
    """Phases by name, in the order given, from `catalogue` (the guide's phases by default); "all" or None: the
    guide's phases, then the network ones when the lab runs in namespaces."""
    known = PHASES if catalogue is None else catalogue
    if names is None or names == "all":
        if catalogue is not None:
            return list(catalogue.values())
        return [PHASES[n] for n in (*DEFAULT_PHASES, *(NETWORK_PHASES if netns else ()))]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise Refused([Problem("--phases", NP_("unknown phase {unknown}; known: {known}",
                                               "unknown phases {unknown}; known: {known}", "count"),
                               {"unknown": ", ".join(unknown), "known": ", ".join(known), "count": len(unknown)})])
    if not names:
        raise Refused([Problem("--phases", N_("no phase selected"))])
    return [known[n] for n in names]


def guide_experiment(netns: bool = False) -> Experiment:
    """The experiment `faultlab experiment` runs without a file (with the network phase on a namespace lab)."""
    return Experiment(title=GUIDE_TITLE, description=GUIDE_DESCRIPTION, phases=select_phases(None, netns))


def build_experiment(base: Experiment | None = None, *, phases: str | list[str] | list[PhaseSpec] | None = None,
                     netns: bool = False, repeat: int | None = None, rate: float | None = None,
                     duration_s: float | None = None, settle_s: float | None = None, seed: int | None = None,
                     order_ratio: float | None = None, reset: bool | None = None,
                     thresholds: Thresholds | dict[str, float] | None = None) -> Experiment:
    """An experiment from `base` (the guide's by default) with the options given (None: as the base says).

    `phases` picks phases by name (from the base's own phases when a base is given) or gives them. The result is
    validated as a file would be (`ExperimentRefused` with every problem, its places in the experiment as built).
    """
    experiment = base or guide_experiment(netns)
    data = experiment.model_dump(exclude_none=True)
    if phases is not None:
        chosen = phases if isinstance(phases, list) and phases and isinstance(phases[0], PhaseSpec) else \
            select_phases(phases, netns, None if base is None else {p.name: p for p in experiment.phases})  # type: ignore[arg-type]
        data["phases"] = [p.model_dump(exclude_none=True) for p in chosen]
    load = data["load"]
    for key, value in (("rate_rps", rate), ("duration_s", duration_s), ("settle_s", settle_s),
                       ("order_ratio", order_ratio)):
        if value is not None:
            load[key] = value
    for key, value in (("repeat", repeat), ("seed", seed), ("reset", reset)):
        if value is not None:
            data[key] = value
    if thresholds is not None:
        given = thresholds.model_dump() if isinstance(thresholds, Thresholds) else thresholds
        data["thresholds"] = {**data["thresholds"], **{k: v for k, v in given.items() if v is not None}}
    try:
        built: Experiment = parse(Experiment, data)
    except Refused as exc:
        raise ExperimentRefused(exc.problems, data, Places(phases=phase_names(data))) from None
    return built


__all__ = ["DEFAULT_PHASES", "GUIDE_SYSTEM_PHASES", "NETWORK_PHASES", "PHASES", "Thresholds", "build_experiment", "guide_experiment",
           "select_phases"]
