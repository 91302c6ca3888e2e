"""The experiment's phases as data (what to break, where, with which parameters) and the thresholds a run must meet."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Phase:
    """One step of the experiment: a fault (or none) on some replicas, and the checks that apply to it.

    `action` is "none" (baseline), "fault" (POST /faults on each replica, DELETE to clear; a crash is
    cleared by the supervisor restarting the process), "stop" (the supervisor stops the processes and
    starts them again: replicas down, quorum lost and regained) or "netfault" (the supervisor applies a
    network fault from outside the replica: only a lab started with `faultlab up --netns` has a network).
    """

    name: str
    action: str
    replicas: tuple[int, ...] = ()
    fault: dict[str, Any] = field(default_factory=dict)
    restarts_process: bool = False
    expect_quorum_loss: bool = False
    description: str = ""

    @property
    def needs_netns(self) -> bool:
        return self.action == "netfault"

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["replicas"] = list(self.replicas)
        return data


PHASES: dict[str, Phase] = {
    p.name: p
    for p in (
        Phase("baseline", "none", description="no fault: the reference latency, throughput and success rate"),
        Phase("crash", "fault", (1,), {"kind": "crash"}, restarts_process=True,
              description="replica 1 exits (os._exit); the supervisor restarts it and it catches up from its log"),
        Phase("latency", "fault", (2,), {"kind": "latency", "latency_ms": 1200},
              description="replica 2 answers 1200 ms late; the voter answers at quorum without it"),
        Phase("intermittent", "fault", (3,), {"kind": "intermittent", "probability": 0.3},
              description="replica 3 fails 30 % of its requests (HTTP 500)"),
        Phase("incorrect", "fault", (1,), {"kind": "incorrect", "product_id": "PROD-001"},
              description="replica 1 serves wrong values for PROD-001; the majority outvotes it"),
        Phase("stale", "fault", (2,), {"kind": "stale"},
              description="replica 2 stops applying the log but keeps answering: never agreed with the majority's "
                          "newer version, OFF once it lacks an event the others applied stale_after_ms ago"),
        Phase("hang", "fault", (3,), {"kind": "hang"},
              description="replica 3 accepts connections and never answers: the voter answers without it, the "
                          "monitor's checks time out"),
        Phase("two-down", "stop", (1, 2), restarts_process=True, expect_quorum_loss=True,
              description="replicas 1 and 2 stopped: the voter answers 503 'quorum not reached', then regains quorum"),
        Phase("partition", "netfault", (3,), {"kind": "partition", "instance": 3},
              description="replica 3 cut off the network (namespace lab only): the process runs and answers nobody; "
                          "the majority masks it; after healing it catches up"),
    )
}
DEFAULT_PHASES = tuple(name for name, phase in PHASES.items() if not phase.needs_netns)  # the guide's phases
NETWORK_PHASES = tuple(name for name, phase in PHASES.items() if phase.needs_netns)


def select_phases(names: str | list[str] | None, netns: bool = False) -> list[Phase]:
    """Phases by name, in the order given ("all" or None: the guide's phases, then the network ones when the
    lab runs in namespaces)."""
    if names is None or names == "all":
        return [PHASES[n] for n in (*DEFAULT_PHASES, *(NETWORK_PHASES if netns else ()))]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in PHASES]
    if unknown:
        raise ValueError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
    if not names:
        raise ValueError("no phase selected")
    return [PHASES[n] for n in names]


@dataclass(frozen=True)
class Thresholds:
    """The guide's "acceptable" values (TTD < 2000 ms, TTR < 1000 ms, success > 95 %, p95 < 500 ms).

    A phase that restarts a process (crash, two-down) is held to `max_restart_ttr_ms` instead: the guide
    itself exempts crash from the TTR target (its reference needed a manual restart). The two-down phase
    is meant to lose quorum, so its reads are not held to the success-rate and p95 targets; it must
    instead show the loss ("quorum not reached") and the recovery.
    """

    max_ttd_ms: float = 2000.0
    max_ttr_ms: float = 1000.0
    max_restart_ttr_ms: float = 5000.0
    min_success_rate: float = 95.0
    max_p95_ms: float = 500.0

    def describe(self) -> dict[str, float]:
        return asdict(self)

    def check(self, phase: Phase, ttd_ms: float | None, ttr_ms: float | None, load: dict[str, Any],
              quorum: dict[str, Any] | None = None) -> list[str]:
        """The targets this phase result misses (empty when it meets all that apply to it)."""
        missed: list[str] = []
        if phase.action != "none":
            if ttd_ms is None:
                missed.append("fault not detected (no TTD)")
            elif ttd_ms > self.max_ttd_ms:
                missed.append(f"TTD {ttd_ms:.0f} ms > {self.max_ttd_ms:.0f} ms")
            limit = self.max_restart_ttr_ms if phase.restarts_process else self.max_ttr_ms
            if ttr_ms is None:
                missed.append("no recovery (no TTR)")
            elif ttr_ms > limit:
                missed.append(f"TTR {ttr_ms:.0f} ms > {limit:.0f} ms")
        if phase.expect_quorum_loss:
            if not quorum or not quorum.get("lost"):
                missed.append("quorum loss not observed (the voter never answered 'quorum not reached')")
            elif not quorum.get("regained"):
                missed.append("quorum not regained after the replicas came back")
            return missed
        rate = load.get("success_rate")
        if rate is None:
            missed.append("no request completed")
        elif rate < self.min_success_rate:
            missed.append(f"success rate {rate:.2f} % < {self.min_success_rate:g} %")
        p95 = load.get("p95_latency_ms")
        if p95 is not None and p95 > self.max_p95_ms:
            missed.append(f"p95 {p95:.0f} ms > {self.max_p95_ms:.0f} ms")
        return missed
