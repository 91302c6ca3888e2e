"""One phase of one repetition as the experiment runner saw it (`PhaseRun`), and how report.json keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faultlab.core.said import Said, say, text_of
from faultlab.lab.experiment_file import Experiment, PhaseSpec
from faultlab.lab.recorder import QuorumWatch, Window
from faultlab.lab.report_model import PhaseResult
from faultlab.lab.report_stats import plain
from faultlab.lab.systems.base import MISSING


@dataclass
class PhaseRun:
    """What happened in one phase of one repetition; load figures are read from its windows at the end."""

    phase: PhaseSpec
    repetition: int
    window: Window
    fault_window: Window | None = None
    quorum: QuorumWatch | None = None
    injected_at: float | None = None
    fault_ended_at: float | None = None
    episodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)  # each fault as injected: kind, replicas, params, times
    voter_before: dict[str, Any] | None = None
    voter_after: dict[str, Any] | None = None
    notes: list[Said | str] = field(default_factory=list)  # recorded sentences (core/said.py)
    error: Said | str | None = None
    skipped: list[str] = field(default_factory=list)  # what the system lacks for this phase (MISSING's keys)
    unmeasured: list[str] = field(default_factory=list)  # what it lacks to measure all of a phase that still ran

    def ttd_ms(self) -> float | None:
        """The phase's TTD: the longest of its replicas' (for two-down, until both were detected)."""
        return _longest([e.get("ttd_ms") for e in self.episodes.values()], len(self.phase.replicas))

    def ttr_ms(self) -> float | None:
        values = [e.get("ttr_ms") if e.get("recovered_at") is not None else None for e in self.episodes.values()]
        return _longest(values, len(self.phase.replicas))

    def describe(self, experiment: Experiment) -> PhaseResult:
        """The phase run as report.json keeps it (`results[]`)."""
        load = self.window.describe()
        quorum = self.quorum.describe() if self.quorum else None
        if quorum is not None and self.voter_before and self.voter_after:
            quorum["voter_quorum_not_reached"] = (self.voter_after.get("quorum_not_reached", 0)
                                                  - self.voter_before.get("quorum_not_reached", 0))
        ttd, ttr = self.ttd_ms(), self.ttr_ms()
        missed: list[Said | str] = [] if self.skipped else list(experiment.thresholds_of(self.phase).check(
            self.phase, ttd, ttr, load, quorum, unmeasured=self.unmeasured))
        if self.error:
            missed.insert(0, say("phase_error", error=self.error))
        notes = list(self.notes)
        for e in self.episodes.values():
            if e.get("detected_at") is not None and e.get("activated_at") is not None \
                    and e["detected_at"] < e["activated_at"]:
                notes.append(say("detected_before_activation", replica=e["replica"],
                                 ms=round((e["activated_at"] - e["detected_at"]) * 1000, 1)))
        by_detector: dict[str, float | None] = {}
        for e in self.episodes.values():
            for name, value in (e.get("ttd_ms_by_detector") or {}).items():
                if value is not None:
                    by_detector[name] = max(by_detector.get(name) or 0.0, value)
        first = self.phase.steps[0] if self.phase.steps else None
        return PhaseResult.model_validate(plain({
            "phase": self.phase.name, "repetition": self.repetition, "replicas": list(self.phase.replicas),
            "fault": {"kind": first.kind, **first.fault_params()} if first is not None else None,
            "faults": self.faults, "expects_quorum_loss": self.phase.expect_quorum_loss,
            "restarts_process": self.phase.restarts_process,
            "ttd_ms": ttd, "ttr_ms": ttr, "load_test_result": load,
            "during_fault": self.fault_window.describe() if self.fault_window else None,
            "started_at": self.window.start, "ended_at": self.window.end,
            "injected_at": self.injected_at, "fault_ended_at": self.fault_ended_at,
            "detected_by": _once([e.get("detected_by") for e in self.episodes.values() if e.get("detected_by")]),
            "ttd_ms_by_detector": by_detector or None,
            "episodes": [self.episodes[r] for r in sorted(self.episodes)],
            "quorum": quorum,
            "voting": _voting_delta(self.voter_before, self.voter_after),
            "passed": not missed, "missed": missed, "notes": notes,
            "skipped": [{"missing": key, "why": MISSING[key]} for key in self.skipped] or None,
            "unmeasured": [{"missing": key, "why": MISSING[key]} for key in self.unmeasured] or None,
        }))


def _once(values: list[Any]) -> list[Any] | None:
    """What detected a phase's faults, once each (the same sentence from two replicas is said once), in order."""
    found: dict[str, Any] = {}
    for value in values:
        found.setdefault(text_of(value), value)
    return [found[k] for k in sorted(found)] or None


def _longest(values: list[float | None], expected: int) -> float | None:
    present = [v for v in values if v is not None]
    if expected == 0 or len(present) < expected:
        return None
    return max(present)


def _voting_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    if not before or not after:
        return None
    keys = ("total_votes", "quorum_reached", "quorum_not_reached")
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    outliers = {r: after.get("outliers_by_replica", {}).get(r, 0) - before.get("outliers_by_replica", {}).get(r, 0)
                for r in after.get("outliers_by_replica", {})}
    delta["outliers_by_replica"] = outliers
    return delta
