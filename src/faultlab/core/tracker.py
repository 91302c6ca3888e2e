"""One replica's state as the monitor sees it: ON/OFF/UNKNOWN, the evidence behind it, and fault episodes.

An episode runs from a fault becoming active (the replica's acknowledgement, or the supervisor seeing the
process die) to the replica being ON and caught up after the fault was cleared. TTD and TTR are the
differences between the timestamps of those events, never the result of polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from faultlab.core.config import Settings
from faultlab.core.evidence import (
    CONCLUSIVE,
    FAILURE_KINDS,
    HINT_KINDS,
    INFO_KINDS,
    LATE_KINDS,
)
from faultlab.detectors import DETECTORS, Detector, Sample, make_detector, settings_params

SUSPICION_S = 1.0  # after a failed observation the monitor keeps checking at its fast interval this long

Emit = Callable[[dict[str, Any]], None]


@dataclass
class Episode:
    """A fault's life on one replica, with the timestamps that define TTD and TTR."""

    replica: int
    fault_kind: str | None
    fault: dict[str, Any] | None
    activated_at: float | None
    detected_at: float | None = None
    detected_by: str | None = None
    cleared_at: float | None = None
    recovered_at: float | None = None
    detections: dict[str, float] = field(default_factory=dict)

    @property
    def ttd_ms(self) -> float | None:
        if self.activated_at is None or self.detected_at is None:
            return None
        return round(max(0.0, self.detected_at - self.activated_at) * 1000, 3)

    @property
    def ttr_ms(self) -> float | None:
        if self.cleared_at is None or self.recovered_at is None:
            return None
        return round(max(0.0, self.recovered_at - self.cleared_at) * 1000, 3)

    def ttd_by_detector(self) -> dict[str, float | None]:
        if self.activated_at is None:
            return {}
        return {n: round(max(0.0, at - self.activated_at) * 1000, 3) for n, at in self.detections.items()}

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "ttd_ms": self.ttd_ms, "ttr_ms": self.ttr_ms,
                "ttd_ms_by_detector": self.ttd_by_detector()}


class InstanceTracker:
    """Feeds every observation to every detector; the configured one decides ON/OFF, the others shadow it.

    `detector` given (the detector study's replay): that one decides, and there are no shadows.
    """

    def __init__(self, replica: int, settings: Settings, emit: Emit, detector: Detector | None = None) -> None:
        self.replica = replica
        self.emit = emit
        if detector is not None:
            self.primary = detector.name
            self.detectors: dict[str, Detector] = {detector.name: detector}
        else:
            self.primary = settings.detector
            self.detectors = {name: make_detector(name, settings_params(
                name, settings.failure_threshold, settings.recovery_threshold,
                settings.detector_params if name == settings.detector else None)) for name in DETECTORS}
        self.shadow_on: dict[str, bool] = {name: True for name in self.detectors}
        self.success_threshold = settings.recovery_threshold
        self.status = "UNKNOWN"
        self.since: float | None = None
        self.reason: str | None = None
        self.source: str | None = None
        self.last_check: float | None = None
        self.last_health: dict[str, Any] = {}
        self.caught_up = False
        self.applied_seq: int | None = None  # its position at the last health check
        self.behind_ms: float | None = None  # how long ago the others applied the first event it lacks
        self.last_failed = False
        self.last_failure_at: float | None = None  # time of the last failed observation (any source)
        self.value_suspect = False
        self.suspect_products: set[str] = set()  # the products it answered wrongly (what agreement must cover)
        self.agree_streak = 0
        self.verified_since_clear = 0  # successes seen since the fault was cleared (recovery must be fresh)
        self.episode: Episode | None = None
        self.episodes: list[Episode] = []
        self.transitions = {"ON": 0, "OFF": 0}
        self.served_errors = 0  # errors the replica reported on error-queue for answers it failed
        self.set_aside = 0  # records on order-events it reported as not events of the log (forged, malformed, old)
        self.set_aside_by_reason: dict[str, int] = {}  # ... by the reason it gave (other epoch, bad signature, ...)
        self.invalid_events = 0  # authentic events it consumed as INVALID (unknown type, bad field)
        self.hints = 0  # times the voter saw it behind the majority
        self.last_cleared_at: float | None = None  # the last time a fault of this replica was cleared
        self.late_evidence = 0  # failures reported late about requests sent before that clear (ignored)
        self.replaced = False  # its process exited and the one taking its place has not answered yet
        self.exited_pid: int | None = None  # the pid of that exited process, when it had told it
        self.process_since: float | None = None  # when the process answering now started (failures about requests
        # sent before it are about an older process)

    # ---- evidence -----------------------------------------------------------------------------

    def observe(self, obs: dict[str, Any], now: float | None = None) -> None:
        """One observation; `now` is when the monitor received it (the detector study's replay passes the
        recorded moment; live, it is the present)."""
        kind = obs["kind"]
        at = float(obs["at"])
        source = obs.get("source", "?")
        if kind == "fault_injected":
            self._open_episode(obs.get("fault") or {}, at)
        elif kind == "fault_cleared":
            self.last_cleared_at = max(self.last_cleared_at or 0.0, at)
            if self.episode is not None and self.episode.cleared_at is None:
                self.episode.cleared_at = at
                self.verified_since_clear = 0
                self._emit_episode("cleared")
        elif kind == "process_exit":
            self._process_exit(obs, at, time.time() if now is None else now)
        elif kind == "process_start":
            self.last_health = {}
        elif kind in INFO_KINDS:
            count = min(int(obs.get("count", 1)), 1_000_000)  # a run of reports can travel as one
            if kind == "served_error":
                self.served_errors += count
            elif kind == "invalid_event":
                self.invalid_events += count
            else:
                self.set_aside += count
                reason = str(obs.get("reason") or "unknown")[:64]
                if reason in self.set_aside_by_reason or len(self.set_aside_by_reason) < 32:
                    self.set_aside_by_reason[reason] = self.set_aside_by_reason.get(reason, 0) + count
        elif kind in HINT_KINDS:
            self.hints += min(int(obs.get("count", 1)), 1_000_000)
        elif kind in CONCLUSIVE:
            if kind == "wrong":
                self.suspect_products |= set(obs.get("products") or ())
            self.value_suspect = True
            self.agree_streak = 0
            self._feed(Sample(at, False, source))
            self._shadow_all_off(at)
            if self.status != "OFF":
                self._set("OFF", at, CONCLUSIVE[kind], source)
        elif kind == "health":
            if self.replaced and self._from_new_process(obs, at):
                self._first_answer(obs.get("started_at"), at)
            self.last_check = at
            self.last_health = {k: v for k, v in obs.items() if k not in ("kind", "at", "source", "replica", "ok")}
            self.caught_up = bool(obs.get("caught_up"))
            self.applied_seq = obs.get("applied_seq")
            self.behind_ms = obs.get("behind_ms")
            self._evidence(True, at, source, rtt_ms=obs.get("rtt_ms"))
            if obs.get("stale"):
                self._stale(at, source, obs.get("stale_reason"))
        elif kind == "agree":
            # Agreement vouches only for the products compared: a replica wrong about PROD-001 is not
            # cleared by agreeing about PROD-002.
            vouches = not self.suspect_products or bool(self.suspect_products & set(obs.get("products") or ()))
            for _ in range(min(int(obs.get("count", 1)), 1000)):  # a run of agreements arrives as one report
                if not vouches:
                    self._evidence(True, at, source)
                    continue
                self.agree_streak += 1
                if self.value_suspect and self.agree_streak >= self.success_threshold:
                    self.value_suspect = False
                    self.suspect_products = set()
                self._evidence(True, at, source)
        elif kind in FAILURE_KINDS:
            if source == "monitor":
                self.last_check = at
            sent_at = obs.get("sent_at")
            news_since = max(self.last_cleared_at or 0.0, self.process_since or 0.0)
            if isinstance(sent_at, (int, float)) and sent_at < news_since:
                # about a request sent while a fault now cleared was active, or to a process that has since been
                # replaced: not news
                self.late_evidence += 1
                return
            self._evidence(False, at, source, kind)

    def _from_new_process(self, health: dict[str, Any], at: float) -> bool:
        """Whether a health answer comes from the process that replaced the exited one: another pid, or (no pid
        told) an answer after the exit (a probe the old process answered may arrive after the supervisor's report)."""
        pid = health.get("pid")
        if isinstance(pid, int) and self.exited_pid is not None:
            return pid != self.exited_pid
        return self.process_since is None or at > self.process_since

    def _first_answer(self, started_at: Any, at: float) -> None:
        """The process that took the place of an exited one answers: the detectors judge it from here. The refusals
        seen while it was starting are about no process (the exit, conclusive, had already put the replica OFF); fed
        to the detectors they would keep a working replica out long after it caught up (an error-rate window
        remembers two of them for `window` observations)."""
        self.replaced = False
        for detector in self.detectors.values():
            detector.reset()
        if isinstance(started_at, (int, float)) and not isinstance(started_at, bool):
            self.process_since = max(self.process_since or 0.0, min(float(started_at), at))

    def urgent(self, now: float) -> bool:
        """Check this replica at the fast interval: not ON, or a failure seen in the last SUSPICION_S. Scattered
        errors (an intermittent fault) then meet more checks, so a run of failures is found sooner."""
        return (self.status != "ON" or self.last_failed
                or (self.last_failure_at is not None and now - self.last_failure_at < SUSPICION_S))

    def _evidence(self, ok: bool, at: float, source: str, kind: str | None = None,
                  rtt_ms: float | None = None) -> None:
        self.last_failed = not ok
        if not ok:
            self.last_failure_at = at
        self.verified_since_clear = self.verified_since_clear + 1 if ok else 0
        self._feed(Sample(at, ok, source, rtt_ms, late=kind in LATE_KINDS))
        primary = self.detectors[self.primary]
        if not ok and self.status == "ON" and primary.suspects():  # UNKNOWN stays UNKNOWN until first ON
            self._set("OFF", at, f"{kind or 'failure'} ({self.primary} detector)", source)
        elif ok and self.status != "ON" and primary.trusts() and self.caught_up and not self.value_suspect:
            self._set("ON", at, "healthy and caught up", source)
        elif ok and self.status == "ON" and self._awaiting_recovery():  # noqa: SIM102 (the comment below is on the inner test)
            # ON already when the fault was cleared (a detector that lets a flapping replica back in):
            # recovery counts once enough fresh evidence after the clear confirms it.
            if self.verified_since_clear >= self.success_threshold and self.caught_up and not self.value_suspect:
                self._recovered(at)

    def _awaiting_recovery(self) -> bool:
        e = self.episode
        return e is not None and e.cleared_at is not None and e.recovered_at is None

    def _feed(self, sample: Sample) -> None:
        at = sample.at
        for name, detector in self.detectors.items():
            detector.observe(sample)
            if self.shadow_on[name] and detector.suspects():
                self.shadow_on[name] = False
                if self.episode is not None and name not in self.episode.detections:
                    self.episode.detections[name] = at
            elif not self.shadow_on[name] and detector.trusts() and self.caught_up and not self.value_suspect:
                self.shadow_on[name] = True

    def _shadow_all_off(self, at: float) -> None:
        for name in self.detectors:
            self.shadow_on[name] = False
            if self.episode is not None and name not in self.episode.detections:
                self.episode.detections[name] = at

    def _stale(self, at: float, source: str, why: str | None = None) -> None:
        """It answers, but lacks an event the others applied longer ago than its allowance and has stopped
        applying (or lags past lag_limit_ms): OFF at once (the waiting is in the rule itself), back only once
        caught up."""
        self.last_failed = True
        self.last_failure_at = at
        self.verified_since_clear = 0
        self._shadow_all_off(at)
        if self.status == "ON":
            behind = f"lacks seq {(self.applied_seq or 0) + 1}, applied elsewhere {self.behind_ms or 0:.0f} ms ago"
            reason = (f"lagging: {behind}, it applies but cannot keep up" if why == "lagging"
                      else f"stale: {behind}, nothing taken in since")
            self._set("OFF", at, reason, source)

    def _process_exit(self, obs: dict[str, Any], at: float, now: float) -> None:
        """The supervisor saw the process die at `at`; the monitor learns it `now` (that is the detection)."""
        episode = self.episode
        announced = (episode is not None and episode.fault_kind == "crash" and episode.recovered_at is None
                     and episode.activated_at is not None)
        if not announced:  # an unannounced death (kill -9, a bug): it became active when it died
            self._open_episode({"kind": "process_exit", "params": {"code": obs.get("code")}}, at)
            episode = self.episode
        assert episode is not None and episode.activated_at is not None
        # A crash fault announced its exit moment, which is never later than the death the supervisor saw.
        episode.activated_at = min(episode.activated_at, at)
        episode.cleared_at = at  # recovery (restart) can start from the death
        self.replaced = True
        self.process_since = max(self.process_since or 0.0, at)
        pid = self.last_health.get("pid")
        self.exited_pid = pid if isinstance(pid, int) else None
        self.caught_up = False
        self.last_health = {}
        self._shadow_all_off(now)
        for detector in self.detectors.values():
            detector.reset()
        if self.status != "OFF":
            self._set("OFF", now, "process exited", obs.get("source", "supervisor"))

    # ---- transitions and episodes ------------------------------------------------------------------

    def _open_episode(self, fault: dict[str, Any], at: float) -> None:
        e = self.episode
        if (e is not None and e.fault_kind is None and e.activated_at is None and e.recovered_at is None
                and e.detected_at is not None and e.detected_at >= at):
            # The evidence overtook the fault's own acknowledgement on the way here: same episode.
            e.fault_kind, e.fault, e.activated_at = fault.get("kind"), fault, at
            self._emit_episode("opened")
            return
        if self.episode is not None:
            self._close_episode("superseded")
        self.episode = Episode(self.replica, fault.get("kind"), fault, at)
        if self.status == "OFF" and self.since is not None and self.since >= at:
            # the evidence of this fault put it OFF before its acknowledgement arrived: that was the detection
            self.episode.detected_at = self.since
            self.episode.detected_by = f"{self.source}: {self.reason}"
        elif self.status == "OFF":  # already excluded when the fault began: detected at activation
            self.episode.detected_at = at
            self.episode.detected_by = "already OFF"
        self._emit_episode("opened")

    def _set(self, status: str, at: float, reason: str, source: str) -> None:
        previous = self.status
        self.status, self.since, self.reason, self.source = status, at, reason, source
        self.transitions[status] = self.transitions.get(status, 0) + 1
        self.emit({"type": "state", "replica": self.replica, "status": status, "previous": previous,
                   "at": at, "reason": reason, "source": source})
        if status == "OFF":
            if self.episode is None or self.episode.recovered_at is not None:
                self.episode = Episode(self.replica, None, None, None)
            if self.episode.detected_at is None:
                self.episode.detected_at = at
                self.episode.detected_by = f"{source}: {reason}"
                self._emit_episode("detected")
        elif status == "ON" and self._awaiting_recovery():
            self._recovered(at)
        elif status == "ON" and self._unexplained():
            # OFF on evidence, no fault ever announced, and now trusted again: that episode is over (a fault
            # announced later is a new one, not "already OFF" on a stale detection)
            self._recovered(at)

    def _unexplained(self) -> bool:
        e = self.episode
        return (e is not None and e.fault_kind is None and e.activated_at is None and e.detected_at is not None
                and e.recovered_at is None)

    def _recovered(self, at: float) -> None:
        assert self.episode is not None
        self.episode.recovered_at = at
        self._emit_episode("recovered")
        self._close_episode("recovered")

    def _close_episode(self, why: str) -> None:
        if self.episode is None:
            return
        if self.episode.activated_at is not None or self.episode.detected_at is not None:
            self.episodes.append(self.episode)
            del self.episodes[:-500]
        self.episode = None

    def _emit_episode(self, phase: str) -> None:
        assert self.episode is not None
        self.emit({"type": "episode", "phase": phase, "replica": self.replica, **self.episode.describe()})

    def describe(self) -> dict[str, Any]:
        return {
            "replica": self.replica, "service_name": "inventory-svc", "instance_id": str(self.replica),
            "instance_name": f"inventory-svc-{self.replica}",
            "status": self.status, "since": self.since, "reason": self.reason, "source": self.source,
            "last_check": self.last_check, "caught_up": self.caught_up, "value_suspect": self.value_suspect,
            "detector": self.primary, "shadow_status": {n: "ON" if on else "OFF" for n, on in self.shadow_on.items()},
            "health": self.last_health, "open_episode": self.episode.describe() if self.episode else None,
            "transitions": self.transitions, "served_errors": self.served_errors, "set_aside": self.set_aside,
            "set_aside_by_reason": dict(self.set_aside_by_reason), "invalid_events": self.invalid_events,
            "applied_seq": self.applied_seq, "behind_ms": self.behind_ms, "behind_hints": self.hints,
            "late_evidence": self.late_evidence,
        }
