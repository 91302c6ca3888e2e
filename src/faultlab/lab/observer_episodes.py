"""The observer's ground truth turned into fault episodes (the shop monitor's shape), pure logic on literal histories.

Fed in order: the faults the lab injected and cleared (with the system's acknowledgements), the observer's own probes
of each replica (health and data), and its polls of the system's monitor. An episode's `detected_at` is the first
poll, sent after the injection, in which the monitor says OFF; `recovered_at` the first poll sent after the clear
was acknowledged in which it says ON; both are polled, so `resolution_ms` goes with them. Beside them:
`observer_detected_at`, the first of the observer's own probes (sent after the injection) that failed, timed out or
answered a value the majority does not hold, and `ttd_ms_by_detector`, when each of faultlab's detectors, fed the
observer's probes with the lab's default settings, would first have suspected the replica.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.said import say
from faultlab.core.tracker import Episode
from faultlab.detectors import DETECTORS, Detector, Sample, make_detector, settings_params

Value = tuple[int | None, int | None, int | None]  # a product as a replica answers it: available, reserved, position
Emit = Callable[[dict[str, Any]], None]
PROBE_SOURCE = "monitor"  # the detectors' name for a heartbeat-like probe (phi-accrual reads their arrivals)
DATA_SOURCE = "observer"


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe of a replica: sent when, completed (answered, failed or given up) when, and how it went."""

    replica: int
    kind: str  # health or data
    sent_at: float
    at: float
    ok: bool
    error: str | None = None  # timeout, refused, http_500, down, ...
    rtt_ms: float | None = None


@dataclass
class ObservedEpisode(Episode):
    """A fault's life on one replica as the observer saw it: the shop monitor's episode plus the observer's own."""

    sent_at: float = 0.0  # when the lab sent the fault (polls and probes before it say nothing about it)
    clear_acked_at: float | None = None  # when the clear (or restart) was acknowledged: recovery polls after it
    observer_detected_at: float | None = None
    resolution_ms: float = 20.0

    @property
    def observer_ttd_ms(self) -> float | None:
        if self.activated_at is None or self.observer_detected_at is None:
            return None
        return round(max(0.0, self.observer_detected_at - self.activated_at) * 1000, 3)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "observer_ttd_ms": self.observer_ttd_ms}


@dataclass
class ReplicaTruth:
    """What the observer knows of one replica: its probes' outcomes, the detectors fed with them, the monitor's
    word, and its fault episodes."""

    replica: int
    detectors: dict[str, Detector]
    shadow_on: dict[str, bool] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    wrong_streak: int = 0
    agree_streak: int = 0
    value_suspect: bool = False
    probed: bool = False
    last_ok_at: float | None = None
    monitor: str | None = None  # ON, OFF or UNKNOWN as last polled; None before the first poll
    monitor_since: float | None = None
    episode: ObservedEpisode | None = None
    episodes: list[ObservedEpisode] = field(default_factory=list)

    def count(self, kind: str, outcome: str) -> None:
        bucket = self.counts.setdefault(kind, {})
        bucket[outcome] = bucket.get(outcome, 0) + 1


def majority_disagreement(own: dict[str, Value], others: list[dict[str, Value]]) -> tuple[list[str], bool]:
    """The products on which `own` differs from the value a majority of all answers hold, and whether every one of
    those was compared at an equal position (then the difference is certain, not a replica applying later)."""
    wrong: list[str] = []
    certain = True
    for product, value in own.items():
        answers = [o[product] for o in others if product in o]
        position = value[2]
        if position is not None:  # compare like with like: answers at the same log position only
            answers = [a for a in answers if a[2] == position]
        votes: dict[tuple[int | None, int | None], int] = {}
        for a in [*answers, value]:
            votes[(a[0], a[1])] = votes.get((a[0], a[1]), 0) + 1
        winner = max(votes.items(), key=lambda item: item[1])
        if winner[1] * 2 > len(answers) + 1 and winner[0] != (value[0], value[1]):
            wrong.append(product)
            certain = certain and position is not None
    return wrong, certain


class EpisodeBook:
    """Every replica's ground truth and episodes; `emit` receives the events (state changes, episode steps)."""

    def __init__(self, replicas: list[int], emit: Emit, resolution_ms: float = 20.0, wrong_after: int = 3,
                 settings: Settings | None = None) -> None:
        s = settings or Settings()
        self.primary = s.detector
        self.resolution_ms = resolution_ms
        self.wrong_after = wrong_after
        self.recovery = s.recovery_threshold
        self.emit = emit
        self.replicas: dict[int, ReplicaTruth] = {}
        for r in replicas:
            detectors = {name: make_detector(name, settings_params(name, s.failure_threshold, s.recovery_threshold))
                         for name in DETECTORS}
            self.replicas[r] = ReplicaTruth(r, detectors, shadow_on=dict.fromkeys(detectors, True))
        self.polls = {"sent": 0, "answered": 0, "failed": 0}

    # ---- the lab's faults -------------------------------------------------------------------------------------

    def injected(self, replica: int, kind: str, fault: dict[str, Any], activated_at: float, sent_at: float) -> None:
        """A fault became active (the system's acknowledgement, or the request that killed the replica)."""
        truth = self.replicas[replica]
        if truth.episode is not None:
            truth.episodes.append(truth.episode)  # superseded by this fault
        truth.episode = ObservedEpisode(replica, kind, fault, activated_at, sent_at=sent_at,
                                        resolution_ms=self.resolution_ms)
        self._step(truth.episode, "opened")

    def activated(self, replica: int, at: float) -> None:
        """The open episode's activation, once known (a stop by a command: when the replica was last seen answering
        before it went down); the polls and probes already counted stay counted."""
        episode = self.replicas[replica].episode
        if episode is not None:
            episode.activated_at = at
            self._step(episode, "activated")

    def cleared(self, replica: int, cleared_at: float, acked_at: float) -> None:
        """The fault was cleared at `cleared_at` (a restart: when its command started), acknowledged at `acked_at`."""
        episode = self.replicas[replica].episode
        if episode is None or episode.cleared_at is not None:
            return
        episode.cleared_at, episode.clear_acked_at = cleared_at, acked_at
        self._step(episode, "cleared")

    # ---- the observer's probes ---------------------------------------------------------------------------------

    def probe(self, probe: Probe) -> None:
        """A health or data probe's outcome (a data probe's values go through `data` first)."""
        truth = self.replicas[probe.replica]
        truth.probed = True
        truth.count(probe.kind, "ok" if probe.ok else (probe.error or "failed"))
        if probe.ok:
            truth.last_ok_at = probe.at
        else:
            self._seen(truth, probe.sent_at, probe.at)
        source = PROBE_SOURCE if probe.kind == "health" else DATA_SOURCE
        self._feed(truth, Sample(probe.at, probe.ok, source, probe.rtt_ms, late=probe.error == "timeout"),
                   probe.sent_at)

    def data(self, replica: int, sent_at: float, at: float, own: dict[str, Value],
             others: list[dict[str, Value]], rtt_ms: float | None = None) -> list[str]:
        """A data probe that answered: its values against the others' latest; the products it holds wrong once
        that is certain (equal positions) or has lasted `wrong_after` probes (empty otherwise)."""
        truth = self.replicas[replica]
        wrong, certain = majority_disagreement(own, others)
        truth.wrong_streak = truth.wrong_streak + 1 if wrong else 0
        if wrong and (certain or truth.wrong_streak >= self.wrong_after):
            truth.probed = True
            truth.count("data", "wrong")
            truth.value_suspect, truth.agree_streak = True, 0
            truth.last_ok_at = at  # it answers: the system is there
            self._seen(truth, sent_at, at)
            self._feed(truth, Sample(at, False, DATA_SOURCE, rtt_ms), sent_at, conclusive=True)
            return wrong
        if not wrong:
            truth.agree_streak += 1
            if truth.value_suspect and truth.agree_streak >= self.recovery:
                truth.value_suspect = False
        self.probe(Probe(replica, "data", sent_at, at, True, rtt_ms=rtt_ms))
        return []

    def _seen(self, truth: ReplicaTruth, sent_at: float, at: float) -> None:
        e = truth.episode
        if e is not None and e.observer_detected_at is None and sent_at >= e.sent_at:
            e.observer_detected_at = at
            self._step(e, "observed")

    def _feed(self, truth: ReplicaTruth, sample: Sample, sent_at: float, conclusive: bool = False) -> None:
        e = truth.episode
        for name, detector in truth.detectors.items():
            detector.observe(sample)
            suspects = conclusive or detector.suspects()
            if truth.shadow_on[name] and suspects:
                truth.shadow_on[name] = False
                if e is not None and sent_at >= e.sent_at and e.recovered_at is None and name not in e.detections:
                    e.detections[name] = sample.at
            elif not truth.shadow_on[name] and detector.trusts() and not truth.value_suspect:
                truth.shadow_on[name] = True

    # ---- the system's monitor, polled --------------------------------------------------------------------------

    def poll(self, sent_at: float, at: float, states: dict[int, str] | None) -> None:
        """One poll of the monitor's status (None: it did not answer, or not readably): its word for each replica."""
        self.polls["sent"] += 1
        if states is None:
            self.polls["failed"] += 1
            return
        self.polls["answered"] += 1
        for replica, truth in self.replicas.items():
            status = states.get(replica, "UNKNOWN")
            if status != truth.monitor:
                self.emit({"type": "state", "replica": replica, "status": status, "previous": truth.monitor,
                           "at": at, "reason": "the system's monitor, polled", "source": "monitor"})
                truth.monitor, truth.monitor_since = status, at
            e = truth.episode
            if e is None:
                continue
            if status == "OFF" and e.detected_at is None and sent_at >= e.sent_at:
                e.detected_at = at
                e.detected_by = say("detected_by_polled", interval_ms=self.resolution_ms)
                self._step(e, "detected")
            elif status == "ON" and e.clear_acked_at is not None and sent_at >= e.clear_acked_at:
                e.recovered_at = at
                self._step(e, "recovered")
                truth.episodes.append(e)
                truth.episode = None

    # ---- reading it ------------------------------------------------------------------------------------------

    def _step(self, episode: ObservedEpisode, phase: str) -> None:
        self.emit({"type": "episode", "phase": phase, **episode.describe()})

    def all_episodes(self) -> list[ObservedEpisode]:
        found = [e for t in self.replicas.values() for e in [*t.episodes, *([t.episode] if t.episode else [])]]
        return sorted(found, key=lambda e: e.sent_at)

    def latest(self, replica: int, since: float, needs: str) -> dict[str, Any] | None:
        """The newest episode of `replica` whose fault was sent at or after `since` with field `needs` set."""
        truth = self.replicas.get(replica)
        if truth is None:
            return None
        for e in reversed([*truth.episodes, *([truth.episode] if truth.episode else [])]):
            if e.sent_at >= since and getattr(e, needs) is not None:
                return e.describe()
        return None

    def observer_status(self, replica: int) -> str:
        """The observer's own verdict on a replica: its primary detector's, on its probes (UNKNOWN before any)."""
        truth = self.replicas[replica]
        if not truth.probed:
            return "UNKNOWN"
        return "ON" if truth.shadow_on[self.primary] and not truth.value_suspect else "OFF"

    def describe(self) -> dict[str, Any]:
        return {"replicas": {str(r): {"probes": t.counts, "observer": self.observer_status(r),
                                      "monitor": t.monitor, "shadow_status": {n: "ON" if on else "OFF"
                                                                              for n, on in t.shadow_on.items()}}
                             for r, t in self.replicas.items()},
                "monitor_polls": dict(self.polls), "primary_detector": self.primary,
                "resolution_ms": self.resolution_ms, "wrong_after": self.wrong_after}
