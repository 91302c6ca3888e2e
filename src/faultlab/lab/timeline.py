"""An episode's timeline (lab/timeline_model.Timeline) built from what a run recorded: the episode, the monitor's
observations in the detector study's trace format, the monitor's event history.

The observations (one replica's, in the order the monitor received them: `GET /trace`'s entries, the study's
`traces/*.jsonl`) are replayed through the monitor's own tracker (core/tracker.InstanceTracker, every detector, the
configured one deciding), as the detector study replays them: that gives each detector's state against its threshold
and when each would have turned OFF, which no record holds. The health checks, the voter's reports and the way back
are the observations themselves. The monitor's ON/OFF comes from its event history when there is one (events.jsonl),
else from the replay. What was not recorded is a lane marked so, never an empty one passed off as quiet.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from faultlab.core.config import Settings
from faultlab.core.said import is_said, text_of
from faultlab.core.tracker import InstanceTracker
from faultlab.detectors import Gauge
from faultlab.lab.timeline_model import (
    Check,
    CheckOutcome,
    ChecksLane,
    Detector,
    DetectorsLane,
    Fault,
    FaultLane,
    Lanes,
    Measure,
    Moment,
    MonitorLane,
    RecoveryLane,
    Series,
    Span,
    Status,
    Timeline,
    Transition,
    VoterBucket,
    VoterLane,
    Window,
)

PROBE_KINDS = {"health", "timeout", "refused", "error", "health_failed", "malformed"}  # what a monitor probe yields
# The voter's reports about a replica, by what it did with that replica's answer.
VOTER_OUTCOMES = {"agree": "answered", "slow": "slow", "wrong": "wrong", "behind": "behind", "refused": "failed",
                  "timeout": "failed", "error": "failed", "malformed": "failed"}
BUCKETS_MS = (50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000)  # the voter lane's bucket: the finest
MAX_BUCKETS = 150  # ... that cuts the window into at most this many
SLOW_SHARE = 0.5  # a health check that answered after more than this share of the monitor's timeout is slow
BEFORE_S = 1.0  # the window starts this long before the episode's first event
AFTER_S = 1.0  # ... and ends this long after its last
OPEN_TAIL_S = 10.0  # an episode that never recovered is shown this long after its last event
DEATHS = {"crash", "process_exit"}  # kinds whose end is the process's death (recovery starts there)


@dataclass
class Replay:
    """One replica's observations replayed through the monitor's tracker: what each detector judged by, at every
    change, when each would have turned OFF, the monitor's state changes and the episodes."""

    replica: int
    primary: str
    observations: list[dict[str, Any]]
    params: dict[str, dict[str, float]] = field(default_factory=dict)
    gauges: dict[str, list[Gauge]] = field(default_factory=dict)  # each detector's last gauges (their thresholds)
    points: dict[tuple[str, str], list[tuple[float, float | None]]] = field(default_factory=lambda: defaultdict(list))
    crossings: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    offs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)


def _over(gauge: Gauge) -> bool:
    if gauge.value is None:
        return False
    return gauge.value >= gauge.threshold if gauge.above else gauge.value < gauge.threshold


def replay(observations: list[dict[str, Any]], replica: int, settings: Settings) -> Replay:
    """Feed one replica's observations (arrival order) to a fresh tracker configured as the lab's monitor."""
    states: list[dict[str, Any]] = []
    tracker = InstanceTracker(replica, settings, lambda e: states.append(e) if e["type"] == "state" else None)
    mine = [o for o in observations if o.get("replica") == replica]
    out = Replay(replica, tracker.primary, mine, states=states)
    over: dict[tuple[str, str], bool] = {}
    for obs in mine:
        trusted = dict(tracker.shadow_on)
        tracker.observe(obs, now=float(obs.get("t", obs["at"])))
        at = float(obs["at"])
        for name, detector in tracker.detectors.items():
            out.gauges[name] = gauges = detector.gauges()
            for gauge in gauges:
                key = (name, gauge.measure)
                value = None if gauge.value is None or math.isinf(gauge.value) else round(float(gauge.value), 3)
                points = out.points[key]
                if not points or points[-1][1] != value:
                    points.append((at, value))
                if _over(gauge) and not over.get(key):
                    out.crossings[key].append(at)
                over[key] = _over(gauge)
            if trusted[name] and not tracker.shadow_on[name]:
                episode = tracker.episode
                out.offs[name].append(episode.detections.get(name, at) if episode is not None else at)
    out.params = {name: detector.params() for name, detector in tracker.detectors.items()}
    out.episodes = [e.describe() for e in tracker.episodes] + ([tracker.episode.describe()] if tracker.episode else [])
    return out


def _window(episode: dict[str, Any], injected_at: float | None, before_s: float, after_s: float) -> Window:
    times = [t for t in (injected_at, episode.get("activated_at"), episode.get("detected_at"),
                         episode.get("cleared_at"), episode.get("recovered_at")) if t is not None]
    if not times:
        raise ValueError("an episode needs at least one of activated_at, detected_at, cleared_at, recovered_at")
    tail = after_s if episode.get("recovered_at") is not None else max(after_s, OPEN_TAIL_S)
    return Window(start=min(times) - before_s, end=max(times) + tail)


def _died(episode: dict[str, Any], rep: Replay | None) -> bool:
    """Did the fault end with the process's death (a crash, or a death nobody announced)?"""
    cleared = episode.get("cleared_at")
    if episode.get("fault_kind") in DEATHS:
        return True
    return rep is not None and cleared is not None and any(
        o["kind"] == "process_exit" and o["at"] == cleared for o in rep.observations)


def _inside(window: Window, at: float) -> bool:
    return window.start <= at <= window.end


def _checks(rep: Replay, window: Window, settings: Settings) -> ChecksLane:
    slow_ms = settings.health_timeout_ms * SLOW_SHARE
    items = []
    for o in rep.observations:
        if o.get("source") != "monitor" or o["kind"] not in PROBE_KINDS or not _inside(window, o["at"]):
            continue
        rtt = o.get("rtt_ms") if o["kind"] == "health" else None
        outcome: CheckOutcome
        if o["kind"] == "health":
            outcome = "stale" if o.get("stale") else "slow" if rtt is not None and rtt > slow_ms else "ok"
        else:
            outcome = "timeout" if o["kind"] == "timeout" else "failed"
        items.append(Check(at=o["at"], outcome=outcome, latency_ms=rtt, kind=o["kind"]))
    items.sort(key=lambda c: c.at)
    return ChecksLane(recorded=True, timeout_ms=settings.health_timeout_ms, slow_ms=slow_ms, items=items)


def _cut(points: list[tuple[float, float | None]], window: Window) -> list[tuple[float, float | None]]:
    """The points inside the window, in time order, led by the value the window starts with."""
    ordered = sorted(points, key=lambda p: p[0])
    before = [p for p in ordered if p[0] < window.start]
    inside = [p for p in ordered if _inside(window, p[0])]
    return ([(window.start, before[-1][1])] if before else []) + inside


def _detectors(rep: Replay, window: Window, activated_at: float | None) -> DetectorsLane:
    since = activated_at if activated_at is not None else window.start
    items = []
    for name in sorted(rep.gauges, key=lambda n: (n != rep.primary, n)):
        series = [Series(measure=cast(Measure, g.measure), threshold=g.threshold, above=g.above,
                         points=_cut(rep.points[(name, g.measure)], window),
                         crossed_at=next((t for t in rep.crossings[(name, g.measure)] if _inside(window, t)), None))
                  for g in rep.gauges[name]]
        off_at = next((t for t in rep.offs[name] if since <= t <= window.end), None)
        ttd = round((off_at - activated_at) * 1000, 3) if off_at is not None and activated_at is not None else None
        items.append(Detector(name=name, params=rep.params[name], decides=name == rep.primary, series=series,
                              off_at=off_at, ttd_ms=ttd))
    return DetectorsLane(recorded=True, source="replay", items=items)


def _monitor(states: list[dict[str, Any]], window: Window, source: Literal["events", "replay"]) -> MonitorLane:
    ordered = sorted(states, key=lambda e: e["at"])
    before = [e for e in ordered if e["at"] < window.start]
    initial: Status | None = before[-1]["status"] if before else ("UNKNOWN" if source == "replay" else None)
    transitions = [Transition(at=e["at"], status=e["status"], previous=e.get("previous"), **_reason(e),
                              source=e.get("source"))
                   for e in ordered if _inside(window, e["at"])]
    return MonitorLane(recorded=True, source=source, initial=initial, transitions=transitions)


# the monitor's recorded sentences (core/said.py) as the timeline's words name them
REASON_CODES = {"process_exited": "process_exit"}


def _reason(e: dict[str, Any]) -> dict[str, Any]:
    """A state event's reason as the timeline says it: a code with its parameters, and the recorded English."""
    reason = e.get("reason")
    if not isinstance(reason, dict) or not is_said(reason):  # recorded before sentences were codes: the timeline's own code, else the text as it was
        return {"code": e.get("code") or "recorded", "params": e.get("params") or {}, "reason": reason}
    code, params = reason["code"], dict(reason.get("params") or {})
    if code == "detector_off":  # its evidence is a sentence of its own: the timeline names the kind of failure
        evidence = params.get("evidence")
        kind = str(evidence["code"]).removeprefix("evidence_") if isinstance(evidence, dict) else evidence
        return {"code": "detector", "params": {"detector": params.get("detector"), "kind": kind},
                "reason": text_of(reason)}
    return {"code": REASON_CODES.get(code, code), "params": params, "reason": text_of(reason)}


def _voter(rep: Replay, window: Window) -> VoterLane:
    span_ms = (window.end - window.start) * 1000
    bucket_ms = next((b for b in BUCKETS_MS if span_ms / b <= MAX_BUCKETS), BUCKETS_MS[-1])
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in rep.observations:
        outcome = VOTER_OUTCOMES.get(o["kind"])
        if o.get("source") == "voter" and outcome and _inside(window, o["at"]):
            counts[int((o["at"] - window.start) * 1000 // bucket_ms)][outcome] += int(o.get("count", 1))
    buckets = [VoterBucket(start=round(window.start + i * bucket_ms / 1000, 6), **counts[i]) for i in sorted(counts)]
    return VoterLane(recorded=True, bucket_ms=bucket_ms, buckets=buckets)


def _recovery(rep: Replay | None, episode: dict[str, Any], window: Window) -> RecoveryLane:
    recovered, cleared = episode.get("recovered_at"), episode.get("cleared_at")
    if rep is None:
        events = [Moment(event="recovered", at=recovered)] if recovered is not None else []
        return RecoveryLane(recorded=recovered is not None, events=events)
    events, restarted, answered, caught_up = [], False, False, False
    for o in sorted(rep.observations, key=lambda o: o["at"]):
        if not _inside(window, o["at"]) or (cleared is not None and o["at"] < cleared):
            continue
        if o["kind"] in ("process_exit", "process_start"):
            events.append(Moment(event=o["kind"], at=o["at"]))
            restarted, answered = True, False
        elif o["kind"] == "health" and o.get("source") == "monitor" and cleared is not None:
            if restarted and not answered:
                events.append(Moment(event="answered", at=o["at"]))
                answered = True
            if o.get("caught_up") and not o.get("stale") and not caught_up:
                events.append(Moment(event="caught_up", at=o["at"]))
                caught_up = True
    if recovered is not None:
        events.append(Moment(event="recovered", at=recovered))
    return RecoveryLane(recorded=True, events=sorted(events, key=lambda m: m.at))


def _spans(episode: dict[str, Any], died: bool) -> tuple[Span | None, Span | None]:
    activated, detected = episode.get("activated_at"), episode.get("detected_at")
    cleared, recovered = episode.get("cleared_at"), episode.get("recovered_at")

    def ms(recorded: Any, start: float, end: float | None) -> float | None:
        if end is None:
            return None
        return float(recorded) if recorded is not None else round(max(0.0, end - start) * 1000, 3)

    ttd = None if activated is None else Span(
        start=Moment(event="fault_active", at=activated),
        end=None if detected is None else Moment(event="detected", at=detected),
        ms=ms(episode.get("ttd_ms"), activated, detected))
    ttr = None if cleared is None else Span(
        start=Moment(event="process_exit" if died else "fault_cleared", at=cleared),
        end=None if recovered is None else Moment(event="recovered", at=recovered),
        ms=ms(episode.get("ttr_ms"), cleared, recovered))
    return ttd, ttr


def build_timeline(episode: dict[str, Any], settings: Settings, *, observations: list[dict[str, Any]] | None = None,
                   replayed: Replay | None = None, monitor_events: list[dict[str, Any]] | None = None,
                   injected_at: float | None = None, before_s: float = BEFORE_S,
                   after_s: float = AFTER_S) -> dict[str, Any]:
    """One episode's timeline as a JSON-ready dict (timeline.schema.json).

    `episode`: the monitor's (Episode.describe(), an `episode` event of events.jsonl, report.json's results[].episodes
    entry). `observations`: the monitor's trace (any replicas; this one's are replayed), or `replayed`, a replay of
    them already made. `monitor_events`: events.jsonl (its `state` events are the monitor lane). `injected_at`: when
    the lab sent the injection (else the episode's `sent_at`, if it has one). Lanes with no source are not recorded.
    """
    replica = int(episode["replica"])
    rep = replayed if replayed is not None else (
        replay(observations, replica, settings) if observations is not None else None)
    if rep is not None and rep.replica != replica:
        raise ValueError(f"the replay is of replica {rep.replica}, the episode of replica {replica}")
    injected_at = injected_at if injected_at is not None else episode.get("sent_at")
    window = _window(episode, injected_at, before_s, after_s)
    fault = episode.get("fault") or {}
    died = _died(episode, rep)
    activated, cleared = episode.get("activated_at"), episode.get("cleared_at")
    moments = [("injected", injected_at), ("active", activated), ("process_exit" if died else "cleared", cleared)]
    fault_lane = FaultLane(recorded=activated is not None or injected_at is not None or rep is not None,
                           events=[Moment(event=name, at=at) for name, at in moments if at is not None])
    states = [e for e in monitor_events or [] if e.get("type") == "state" and e.get("replica") == replica]
    if monitor_events is not None:
        monitor = _monitor(states, window, "events")
    elif rep is not None:
        monitor = _monitor(rep.states, window, "replay")
    else:
        monitor = MonitorLane(recorded=False)
    if rep is None:
        checks, detectors, voter = ChecksLane(recorded=False), DetectorsLane(recorded=False), VoterLane(recorded=False)
    else:
        checks, detectors, voter = _checks(rep, window, settings), _detectors(rep, window, activated), _voter(rep, window)
    ttd, ttr = _spans(episode, died)
    timeline = Timeline(
        replica=replica,
        fault=Fault(kind=episode.get("fault_kind"), params=fault.get("params") or {}, injected_at=injected_at,
                    activated_at=activated, cleared_at=cleared),
        window=window, detector=rep.primary if rep is not None else settings.detector, ttd=ttd, ttr=ttr,
        lanes=Lanes(fault=fault_lane, checks=checks, detectors=detectors, monitor=monitor, voter=voter,
                    recovery=_recovery(rep, episode, window)))
    return timeline.model_dump(mode="json")


def timelines_from_trace(entries: list[dict[str, Any]], settings: Settings, **options: Any) -> list[dict[str, Any]]:
    """Every episode of a fault the replay of a trace finds (the detector study's `traces/*.jsonl`: realistic
    episodes, recorded on a real lab), each as its timeline, in the order the faults began."""
    out = []
    for replica in sorted({int(o["replica"]) for o in entries if "replica" in o}):
        rep = replay(entries, replica, settings)
        for episode in rep.episodes:
            if episode.get("fault_kind") is not None:
                out.append(build_timeline(episode, settings, replayed=rep, **options))
    return sorted(out, key=lambda t: (t["fault"]["activated_at"] or t["window"]["start"], t["replica"]))


def run_timelines(results: list[dict[str, Any]], events: list[dict[str, Any]] | None,
                  settings: Settings) -> list[dict[str, Any]]:
    """Every episode of every phase run as its timeline (`results`: report.json's results[]), from the run's
    events.jsonl: its `observation` lines (the monitor's trace: each replica replayed once, over the whole run) and its
    `state` events; lanes of what the run did not record are marked so. One entry per run with episodes:
    {phase, repetition, episodes}."""
    events = events or []
    observations = [e for e in events if e.get("type") == "observation"]
    monitor_events = events if any(e.get("type") == "state" for e in events) else None
    replays: dict[int, Replay] = {}
    out = []
    for result in results:
        docs = []
        for episode in result.get("episodes") or []:
            if all(episode.get(k) is None for k in ("activated_at", "detected_at", "cleared_at", "recovered_at")):
                continue  # nothing happened at any time: nothing to draw
            replica = int(episode["replica"])
            if observations and replica not in replays:
                replays[replica] = replay(observations, replica, settings)
            docs.append(build_timeline(episode, settings, replayed=replays.get(replica), monitor_events=monitor_events,
                                       injected_at=result.get("injected_at")))
        if docs:
            out.append({"phase": result["phase"], "repetition": result["repetition"], "episodes": docs})
    return out
