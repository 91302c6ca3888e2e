"""Offline replay: a recorded segment fed, in arrival order, to the monitor's own tracker with one detector setting.

The tracker is the monitor's (`InstanceTracker`, given the detector to judge and no shadows), so conclusive
evidence (a process exit, a wrong value), "caught up" and value suspicion act exactly as they do live; only the
detector differs. Nothing here reads a clock: the same files and setting give the same transitions.

What the trace fixes, and a replay cannot change: the monitor's probe schedule (it probes a replica faster while
that replica is OFF or recently failed, as decided live by the lab's own detector) and what the voter saw.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.tracker import InstanceTracker
from faultlab.detectors import make_detector


@dataclass(frozen=True)
class Setting:
    """One detector with one set of parameters (what the grid enumerates), and optionally a slower probe interval:
    the replay then keeps only the recorded probes that interval apart while the replica is not suspect (while it
    is, every recorded probe: the monitor's fast interval)."""

    detector: str
    params: tuple[tuple[str, float], ...]
    probe_interval_ms: int | None = None

    @classmethod
    def of(cls, detector: str, params: dict[str, Any], probe_interval_ms: int | None = None) -> Setting:
        return cls(detector, tuple(sorted((k, _clean(v)) for k, v in params.items())), probe_interval_ms)

    @property
    def label(self) -> str:
        shown = " ".join(f"{k}={v:g}" for k, v in self.params if k != "successes")
        probes = f" probe={self.probe_interval_ms}ms" if self.probe_interval_ms else ""
        return f"{self.detector} {shown}{probes}".strip()

    def describe(self) -> dict[str, Any]:
        return {"detector": self.detector, "params": dict(self.params), "label": self.label,
                "probe_interval_ms": self.probe_interval_ms}


def _clean(value: Any) -> float:
    return int(value) if float(value).is_integer() else float(value)


FAULT_FREE = "fault-free"  # the quiet and noisy stretches together: the most time, the finest false-alarm rate
Transition = tuple[float, str, float]  # (when the monitor received the evidence, new status, the evidence's own time)
Transitions = dict[int, list[Transition]]
PROBE_KINDS = {"health", "behind", "timeout", "refused", "error", "health_failed"}  # what a monitor probe yields


def replay_segment(entries: list[dict[str, Any]], setting: Setting, settings: Settings,
                   replicas: list[int]) -> Transitions:
    """Feed one segment to fresh trackers (one per replica) deciding with `setting`; each replica's transitions, in
    the order the monitor would have made them (arrival times never go back; evidence times may: the voter's
    report of an earlier read can arrive after a probe)."""
    transitions: Transitions = {r: [] for r in replicas}
    trackers: dict[int, InstanceTracker] = {}
    arrived = [0.0]
    for r in replicas:
        def emit(event: dict[str, Any], out: list[Transition] = transitions[r]) -> None:
            if event["type"] == "state":
                out.append((arrived[0], event["status"], event["at"]))
        trackers[r] = InstanceTracker(r, settings, emit, detector=make_detector(setting.detector, dict(setting.params)))
    interval_s = setting.probe_interval_ms / 1000 if setting.probe_interval_ms else None
    last_probe: dict[int, float] = {}
    for obs in entries:
        tracker = trackers.get(obs["replica"])
        if tracker is None:
            continue
        if interval_s is not None and obs.get("source") == "monitor" and obs["kind"] in PROBE_KINDS:
            previous = last_probe.get(obs["replica"])
            if previous is not None and not tracker.urgent(obs["t"]) and obs["t"] - previous < 0.9 * interval_s:
                continue  # a slower prober would not have sent this one
            last_probe[obs["replica"]] = obs["t"]
        arrived[0] = obs["t"]
        tracker.observe(obs, now=obs["t"])
    return transitions


def status_at(transitions: list[Transition], at: float) -> str:
    """The replica's status as the monitor had it just before `at` (UNKNOWN before its first transition)."""
    status = "UNKNOWN"
    for t, s, _evidence in transitions:
        if t >= at:
            break
        status = s
    return status


@dataclass
class FaultVerdict:
    """One repetition of one fault judged for one setting: TTD (None: missed or not judged) and flaps."""

    kind: str
    replica: int
    ttd_ms: float | None
    missed: bool
    not_on: bool  # the replica was not ON when the fault began (in this setting's replay): not judged
    flaps: int  # times the faulty replica was let back in (ON) while the fault lasted
    back_on_ms: float | None = None  # OFF when the fault was cleared: the time until it was ON again


def judge_fault(transitions: list[Transition], fault: dict[str, Any]) -> FaultVerdict:
    """The first OFF the monitor made in [activation, deadline] is the detection, its TTD from the evidence's own time
    (as the live monitor measures it); each ON after it while the fault lasted (until it was cleared: a crashed
    process is replaced, its replica coming back is recovery, not a flap) is a flap."""
    start, deadline = fault["activated_at"], fault["deadline"]
    cleared = fault.get("cleared_at", deadline)
    if status_at(transitions, start) != "ON":
        return FaultVerdict(fault["kind"], fault["replica"], None, False, True, 0)
    back_on = None
    if status_at(transitions, cleared + 1e-9) == "OFF":
        again = next((evidence for t, s, evidence in transitions if t > cleared and s == "ON"), None)
        back_on = None if again is None else round(max(0.0, again - cleared) * 1000, 3)
    detected: float | None = None
    flaps = 0
    for t, s, evidence in transitions:
        if t < start or t > deadline:
            continue
        if s == "OFF" and detected is None:
            detected = evidence
        elif s == "ON" and detected is not None and t <= cleared:
            flaps += 1
    ttd = None if detected is None else round(max(0.0, detected - start) * 1000, 3)
    return FaultVerdict(fault["kind"], fault["replica"], ttd, detected is None, False, flaps, back_on)


@dataclass
class Mistakes:
    """False OFFs on a fault-free stretch (Chen, Toueg and Aguilera's mistake rate, duration and query accuracy)."""

    hours: float
    replicas: int
    durations_s: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.durations_s)

    def plus(self, other: Mistakes) -> Mistakes:
        """Two stretches' mistakes as one (their hours added)."""
        return Mistakes(self.hours + other.hours, max(self.replicas, other.replicas),
                        self.durations_s + other.durations_s)

    def describe(self) -> dict[str, Any]:
        wrong_s = sum(self.durations_s)
        return {
            "mistakes": self.count, "hours": round(self.hours, 5),
            "per_hour": round(self.count / self.hours, 3) if self.hours > 0 else None,
            "mean_duration_ms": round(1000 * statistics.fmean(self.durations_s), 1) if self.durations_s else None,
            "max_duration_ms": round(1000 * max(self.durations_s), 1) if self.durations_s else None,
            "query_accuracy": (round(1 - wrong_s / (self.hours * 3600 * self.replicas), 6)
                               if self.hours > 0 and self.replicas else None),
        }


def count_mistakes(transitions: Transitions, start: float, end: float) -> Mistakes:
    """Every OFF the monitor made in [start, end) of a fault-free stretch is a mistake, lasting (on the monitor's
    clock) until the next ON, or the end; a replica not ON at `start` counts as one mistake from `start`."""
    out = Mistakes(max(0.0, end - start) / 3600, len(transitions))
    for trans in transitions.values():
        off_since = start if status_at(trans, start) != "ON" else None
        for t, s, _evidence in trans:
            if t < start or t >= end:
                continue
            if s == "OFF" and off_since is None:
                off_since = t
            elif s == "ON" and off_since is not None:
                out.durations_s.append(t - off_since)
                off_since = None
        if off_since is not None:
            out.durations_s.append(end - off_since)
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); a miss counts as +inf, so one miss in ten makes p95 infinite."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    if math.isinf(ordered[high]) or math.isinf(ordered[low]):
        return math.inf
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def ttd_summary(verdicts: list[FaultVerdict]) -> dict[str, Any]:
    """TTD median and p95 over the judged repetitions (misses as +inf), with misses, unjudged and flaps counted."""
    judged = [v for v in verdicts if not v.not_on]
    values = [math.inf if v.ttd_ms is None else v.ttd_ms for v in judged]
    median = percentile(values, 50)
    p95 = percentile(values, 95)
    return {
        "n": len(judged), "missed": sum(v.missed for v in judged), "not_judged": len(verdicts) - len(judged),
        "median_ms": _finite(median), "p95_ms": _finite(p95),
        "flaps": sum(v.flaps for v in judged),
        "values_ms": [v.ttd_ms for v in verdicts],
        "back_on_median_ms": _finite(percentile([v.back_on_ms for v in judged if v.back_on_ms is not None], 50)),
    }


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an infinite percentile (misses) is written as null and judged as missing."""
    return None if value is None or math.isinf(value) else round(value, 3)


def setting_env(setting: dict[str, Any]) -> str:
    """The FAULTLAB_* variables that give the lab this setting."""
    params = setting["params"]
    env = [f"FAULTLAB_DETECTOR={setting['detector']}"]
    if "failures" in params:
        env.append(f"FAULTLAB_FAILURE_THRESHOLD={params['failures']}")
    rest = {k: v for k, v in params.items() if k not in ("failures", "successes")}
    if rest:
        env.append(f"FAULTLAB_DETECTOR_PARAMS='{json.dumps(rest, separators=(',', ':'))}'")
    return " ".join(env)
