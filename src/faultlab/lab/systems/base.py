"""The seam: everything the lab's instruments may ask of a system under test, and nothing else.

A system under test is faultlab's own shop (`shop.py`) or any system built to the study guide's contract
(`guide.py`). The experiment runner, the load, the probes and the checkers see one `SystemUnderTest`: what it can do
(`Abilities`), how to reach it (`LoadApi` for the load, `url_of` for the probes), how to break it and heal it
(`inject`, `clear`, `rollback`), how its detections are read (`watch`, `wait_episode`) and how its data is checked
(`check_data`). An ability a system lacks is never faked: a phase that needs it is skipped with the reason
(`missing_for`), or runs as far as it can.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from faultlab.core.i18n import N_
from faultlab.core.said import Said, SaidError

if TYPE_CHECKING:  # the instruments' types, named in signatures only
    from faultlab.lab.experiment_check import LabFacts
    from faultlab.lab.experiment_file import Experiment, PhaseSpec, SteadyState
    from faultlab.lab.load_model import LoadResult
    from faultlab.lab.workload import LoadApi

Step = Callable[[str], None]

# What a phase may need that a system may lack, each with the sentence that says why the phase is skipped.
MISSING = {
    "restart": N_("the system has no way to bring a crashed replica back (set system.replicas.restart_command)"),
    "stop": N_("the system has no way to stop and start a replica (set system.replicas.stop_command and "
               "system.replicas.start_command)"),
    "monitor": N_("the system has no monitor to detect the fault (set system.monitor.url)"),
    "netns": N_("network faults need faultlab's shop in network namespaces (faultlab up --netns)"),
    "kind": N_("the system cannot take this fault kind"),
    "down": N_("a replica was left down by an earlier phase and nothing can bring it back (set "
               "system.replicas.restart_command)"),
}


class SystemUnavailable(SaidError):
    """The system under test cannot be used as it is (it does not answer, a part is down); the message says what."""


@dataclass(frozen=True)
class Abilities:
    """What a system under test can do; the instruments ask, never assume."""

    reset: bool = False  # fresh data before a run (initial stock, empty log)
    lab_settings: bool = False  # restart its services with an experiment's settings (detector, intervals, …)
    restart: bool = False  # a crashed replica comes back (a supervisor, or a restart command)
    stop: bool = False  # a replica can be stopped and started again (two-down)
    monitor: bool = False  # a monitor whose ON/OFF gives TTD and TTR
    pushed_events: bool = False  # the monitor's events carry their own timestamps (else its status is polled)
    restock: bool = False
    order_status: bool = False  # GET /orders/{id}: orders can be seen leaving PENDING
    positions: bool = False  # voted answers carry a log position (monotonic reads can be checked)
    netns: bool = False  # network faults (partition, netem)
    warm_spares: bool = False  # a just-started system has spares still importing (wait before the baseline)
    fault_kinds: frozenset[str] = frozenset()  # the fault kinds it can take

    def describe(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "fault_kinds"},
                "fault_kinds": sorted(self.fault_kinds)}


@dataclass
class Injected:
    """One fault as the system acknowledged it: on which replica, when it became active (the system's own time),
    and when the lab sent it (its local clock, the start of the detection wait)."""

    replica: int
    activated_at: float | None
    sent_at: float
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cleared:
    """A fault cleared on one replica: when the system says it was (None when it did not answer)."""

    replica: int
    cleared_at: float | None
    problem: Said | str | None = None  # a recorded sentence (core/said.py)


class SystemUnderTest(abc.ABC):
    """One system under test, reached from outside; `start()` before use, `stop()` after (safe twice)."""

    kind: str  # "shop" or "guide"
    name: str  # how reports and pages name it
    abilities: Abilities
    replica_ids: list[int]
    product_ids: list[str]
    on_lost: Callable[[str], None] | None = None  # told (once) when the system stops answering mid-run

    @abc.abstractmethod
    async def start(self) -> None:
        """Open what talking to the system needs (clients, the observer)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close it all again; safe to call twice."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ---- what it is -----------------------------------------------------------------------------------------------

    def missing_for(self, phase: PhaseSpec) -> list[str]:
        """What the system lacks for a phase (keys of MISSING; empty when it can run)."""
        a = self.abilities
        missing: list[str] = []
        for step in phase.steps:
            spec = step.spec
            if spec.kind not in a.fault_kinds:
                missing.append("netns" if spec.site.name == "network" else "kind")
            if spec.restarts_process and not spec.clears and not a.restart:
                missing.append("restart")
            if spec.site.name == "process" and not a.stop:
                missing.append("stop")
        if phase.has_fault and not a.monitor:
            missing.append("monitor")
        return sorted(set(missing))

    def unmeasured_for(self, phase: PhaseSpec) -> list[str]:
        """What the system lacks to measure all of a phase that still runs as far as it can (keys of MISSING: a
        crash without a way back is injected and detected, its recovery not measured); empty by default."""
        return []

    def leaves_down(self, phase: PhaseSpec) -> bool:
        """Whether the phase leaves a replica down for good (the runner runs it last, once)."""
        return False

    def load_order_ratio(self, requested: float) -> float:
        """The share of orders the load sends (a system without a reset may lower it so its stock lasts)."""
        return requested

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the report says of the system: its kind, name, abilities and the contract as found."""

    @abc.abstractmethod
    async def facts(self) -> LabFacts:
        """What an experiment needs to know of the system to be checked against it (replicas, products, nodes)."""

    @abc.abstractmethod
    async def check(self) -> dict[str, Any]:
        """Probe the system before anything is broken: {"ok", "found": [...], "missing": [...], ...}; the run exits
        when it is not ok."""

    # ---- before and after a run -----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def prepare(self, experiment: Experiment, on_step: Step) -> dict[str, Any]:
        """Bring the system to the run's starting state (a reset where it has one); what was done, for the report."""

    async def restore(self, on_step: Step) -> dict[str, Any] | None:
        """Undo what `prepare` changed beyond the data (the lab's own settings); None when there is nothing."""
        return None

    @abc.abstractmethod
    async def steady(self) -> list[Said | str]:
        """Why the system is not steady now (replicas not ON, faults still active); empty when it is."""

    @abc.abstractmethod
    async def hypothesis(self, steady_state: SteadyState) -> dict[str, Any]:
        """The steady-state hypothesis' probes, tried until they pass or its timeout: {"ok", "probes", "seconds"}."""

    async def settle(self, on_step: Step) -> dict[str, Any]:
        """What must settle after the hypothesis holds and before the baseline (warm spares importing)."""
        return {}

    # ---- load -----------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def load_api(self) -> LoadApi:
        """How the load reaches the system: its voted reads, orders, cancels and restocks."""

    # ---- faults ---------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def inject(self, kind: str, replicas: Sequence[int], params: dict[str, Any]) -> list[Injected]:
        """One fault on each of `replicas` at once; RuntimeError when the system refuses it."""

    @abc.abstractmethod
    async def clear(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        """Clear one kind on these replicas."""

    async def recover(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        """Bring back replicas a fault that clears nothing (a crash) took down, once it was detected: a restart
        command's start clears it. Empty where the system brings them back itself (the shop's supervisor)."""
        return []

    @abc.abstractmethod
    async def rollback(self, timeline: list[dict[str, Any]]) -> list[Said | str]:
        """Clear every fault the lab may have left (stopped replicas started, networks healed); what could not be
        done. Appends what it did to `timeline`. Runs however the run ends."""

    # ---- detection ------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def watch(self) -> None:
        """Start following the system's detections (before the first fault)."""

    @abc.abstractmethod
    async def unwatch(self) -> None:
        """Stop following them (safe twice)."""

    @abc.abstractmethod
    async def wait_episode(self, replica: int, since: float, needs: str, timeout_s: float) -> dict[str, Any] | None:
        """The episode of a fault on `replica` that became active at or after `since`, once its field `needs`
        (detected_at, recovered_at) is set; None after the timeout (a miss)."""

    @abc.abstractmethod
    def recorded_events(self) -> list[dict[str, Any]]:
        """Every detection event followed since `watch()` (the report's event list)."""

    @abc.abstractmethod
    async def monitor_status(self) -> dict[str, Any]:
        """The monitor's view now, in the shop monitor's shape (`instances`, …)."""

    @abc.abstractmethod
    async def voter_stats(self) -> dict[str, Any] | None:
        """The voter's statistics now (None when it has none or does not answer)."""

    @abc.abstractmethod
    async def failures(self) -> list[dict[str, Any]]:
        """The fault episodes the system's monitor lists."""

    # ---- data -----------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def check_data(self, history: LoadResult | None, timeout_s: float) -> dict[str, Any]:
        """The data verdict after the run (faults cleared, load stopped): each check valid, invalid or unknown."""
