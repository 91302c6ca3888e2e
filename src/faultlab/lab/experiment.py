"""The experiment runner: an experiment (`lab/experiment_file.py`) run against a system under test, TTD/TTR from its
detections' own timestamps.

The runner reaches the system only through `lab/systems` (faultlab's shop, or a system built to the study guide's
contract): it asks what the system can do, and a phase that needs an ability the system lacks is skipped with the
reason, never faked. Shaped like a Chaos Toolkit experiment: the steady-state hypothesis first (abort when it does not hold), then the
method (the phases, repeated), and rollbacks that always run — every fault cleared, every stopped replica started
again and the lab's own settings back, Ctrl-C and abort conditions included — then the hypothesis again and the
data check. Each phase: the load keeps running; its faults are injected (staggered when they say so) where their
kind is applied (the fault registry's sites); TTD from the monitor's episode for each replica; each fault is held,
then cleared; TTR from the episodes; load until the lab is steady again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.said import Said, SaidError, render, said_of, said_problem, say, text_of
from faultlab.lab.abort import AbortWatch
from faultlab.lab.experiment_check import lab_problems
from faultlab.lab.experiment_file import Experiment, PhaseSpec
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.probes import failures
from faultlab.lab.recorder import LoadRecorder, QuorumWatch, Window
from faultlab.lab.report import plain
from faultlab.lab.report_model import PhaseResult
from faultlab.lab.systems.base import MISSING, Cleared, SystemUnavailable, SystemUnderTest
from faultlab.lab.systems.shop import ShopSystem
from faultlab.lab.workload import Workload

LOAD_FOREVER_S = 7 * 24 * 3600.0
STEP_SEED = 1_000_000  # the seed of a phase's second fault is the first's plus this (the first keeps the old seeds)


class SteadyStateError(SaidError):
    """The lab is not healthy enough to start (or resume) the experiment; its sentence says what is wrong."""


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


def _episode(event: dict[str, Any]) -> dict[str, Any]:
    """The episode carried by a monitor event, without the event's own fields (its last step kept as `last_event`)."""
    episode = {k: v for k, v in event.items() if k not in ("id", "type", "phase")}
    episode["last_event"] = event.get("phase")
    return episode


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


class ExperimentRunner:
    """Runs an experiment against a running lab (reached over HTTP with the operator token)."""

    def __init__(self, settings: Settings, experiment: Experiment,
                 on_step: Callable[[str], None] | None = None,
                 on_phase: Callable[[PhaseResult], None] | None = None, restore_settings: bool = True,
                 system: SystemUnderTest | None = None) -> None:
        if system is None and not settings.admin_token:
            raise ValueError("the experiment needs the operator token (start the lab, or set FAULTLAB_ADMIN_TOKEN)")
        self.settings = settings
        self.experiment = experiment
        self.on_step = on_step or (lambda _msg: None)
        self.on_phase = on_phase or (lambda _result: None)
        self.restore_settings = restore_settings  # False when the lab is stopped after the run anyway
        self.recorder = LoadRecorder()
        self.client = LabClient(settings)
        self.system: SystemUnderTest = system or ShopSystem(settings, self.client)
        self.runs: list[PhaseRun] = []
        self.interrupted = False
        self.aborted: Said | str | None = None  # why the run could not start (a recorded sentence)
        self.lost: str | None = None  # the system under test stopped answering mid-run (why)
        self.stopped_by: Said | None = None  # the abort condition that stopped the run
        self.load: OpenLoopLoad | None = None
        self.timeline: list[dict[str, Any]] = []
        self._phases_task: asyncio.Task[None] | None = None
        self._current: PhaseRun | None = None
        self._interrupt = False

    def interrupt(self) -> None:
        """Stop after rolling back (the CLI calls this on Ctrl-C): faults cleared, a partial report written."""
        self._interrupt = True
        if self._phases_task is not None:
            self._phases_task.cancel()

    def _abort_now(self, reason: Said) -> None:
        """An abort condition holds: stop the phases (the rollback runs as for Ctrl-C)."""
        self.stopped_by = reason
        self.on_step(i18n._("abort condition: {reason}; rolling back").format(reason=render(reason)))
        if self._phases_task is not None:
            self._phases_task.cancel()

    def _system_lost(self, reason: str) -> None:
        """The system under test stopped answering: stop the phases (the rollback runs, the report says why)."""
        if self.lost is not None:
            return
        self.lost = reason
        self.on_step(i18n._("the system under test stopped answering; rolling back"))
        if self._phases_task is not None:
            self._phases_task.cancel()

    # ---- the system's view ----------------------------------------------------------------------------

    async def monitor_status(self) -> dict[str, Any]:
        try:
            return await self.system.monitor_status()
        except SystemUnavailable as exc:
            raise SteadyStateError(said_of(exc)) from None

    async def voter_stats(self) -> dict[str, Any] | None:
        return await self.system.voter_stats()

    # ---- steady state ---------------------------------------------------------------------------

    async def wait_steady(self, timeout_s: float) -> list[Said | str]:
        """Wait until every replica is ON, caught up and fault-free; the remaining problems after the timeout."""
        deadline = time.monotonic() + timeout_s
        problems: list[Said | str] = [say("monitor_not_reached")]
        while time.monotonic() < deadline:
            with contextlib.suppress(ApiCallError):
                problems = await self.system.steady()
                if not problems:
                    return []
            await asyncio.sleep(0.1)
        return problems

    async def check_preconditions(self) -> dict[str, Any]:
        """What must hold before anything is touched (the data reset included): the system answers as its kind
        must, and the experiment fits it (`experiment_check.lab_problems` on the system's facts: the replicas,
        products and nodes it names exist, a namespace lab for network faults, ...)."""
        self.on_step(i18n._("checking the lab"))
        try:
            checks = await self.system.check()
            facts = await self.system.facts()
        except (SystemUnavailable, ApiCallError) as exc:
            raise SteadyStateError(said_of(exc)) from None
        if not checks.get("ok"):
            raise SteadyStateError(say("system_unusable",
                                       missing=list(checks.get("unusable") or checks.get("missing", []))))
        checks["lab"] = facts.describe()
        problems = lab_problems(self.experiment, facts)
        if problems:
            raise SteadyStateError(say("does_not_fit", problems=[said_problem(p.place, p.message, p.params)
                                                                 for p in problems]))
        return checks

    async def check_steady_state(self, checks: dict[str, Any]) -> dict[str, Any]:
        """The hypothesis before anything is broken: every probe of the experiment's steady state passes."""
        self.on_step(i18n._("checking the steady state"))
        steady = self.experiment.steady_state
        checks = dict(checks)
        hypothesis = await self.system.hypothesis(steady)
        checks["hypothesis"] = hypothesis
        if not hypothesis["ok"]:
            raise SteadyStateError(say("lab_not_healthy", probes=failures(hypothesis)))
        if steady.wait_for_spares:
            checks.update(await self.system.settle(self.on_step))
        checks["ok"] = True
        return checks

    # ---- faults ---------------------------------------------------------------------------------

    def _seed(self, repetition: int, index: int, step: int) -> int:
        return self.experiment.seed * 10_000 + repetition * 100 + index + STEP_SEED * step

    async def inject_step(self, run: PhaseRun, step: Any, number: int, index: int) -> list[tuple[int, float]]:
        """One fault of a phase on each of its replicas; (replica, local time just before its injection) for the
        detection waits. Raises RuntimeError when the system refuses it."""
        spec = step.spec
        params = step.fault_params()
        if "seed" in spec.params.model_fields and "seed" not in params:
            params["seed"] = self._seed(run.repetition, index, number)
        record = {"kind": spec.kind, "replicas": list(step.replicas), "params": params, "start_s": step.start_s,
                  "hold_s": step.hold_s, "injected_at": None, "cleared_at": None}
        run.faults.append(record)
        injected = await self.system.inject(spec.kind, step.replicas, params)
        for one in injected:
            if one.activated_at is not None:
                record["injected_at"] = min(filter(None, (record["injected_at"], one.activated_at)))
            detail = {"fault": one.answer["fault"]} if "fault" in one.answer else {"kind": spec.kind}
            self.timeline.append({"at": one.activated_at, "event": spec.site.injected_event, "replica": one.replica,
                                  **detail})
        return [(one.replica, one.sent_at) for one in injected]

    async def clear_step(self, run: PhaseRun, step: Any) -> None:
        self._cleared(run, step, await self.system.clear(step.spec.kind, step.replicas), step.spec.site.cleared_event)

    def _cleared(self, run: PhaseRun, step: Any, cleared_all: list[Cleared], event: str) -> None:
        """What the system cleared (or brought back) for a step: its problems noted, the fault's record closed at the
        latest clearing, one timeline event per replica cleared."""
        record = next((f for f in run.faults if f["kind"] == step.spec.kind and f["replicas"] == list(step.replicas)),
                      None)
        for cleared in cleared_all:
            if cleared.problem is not None:
                run.notes.append(cleared.problem)
            if cleared.cleared_at is None:
                continue
            if record is not None:
                record["cleared_at"] = max(cleared.cleared_at, record["cleared_at"] or 0.0)
            self.timeline.append({"at": cleared.cleared_at, "event": event, "replica": cleared.replica})

    async def rollback(self) -> list[Said | str]:
        """Clear every fault on every replica, start every stopped process, heal the network; what could not be
        done."""
        self.on_step(i18n._("rollback: clearing every fault"))
        return await self.system.rollback(self.timeline)

    # ---- phases ---------------------------------------------------------------------------------

    async def run_phase(self, phase: PhaseSpec, repetition: int, index: int) -> PhaseRun:
        exp = self.experiment
        label = i18n._("rep {n}/{total}").format(n=repetition, total=exp.repeat) + f" · {phase.name}"
        self.on_step(f"{label}: " + i18n._("waiting for a steady lab"))
        problems = await self.wait_steady(exp.timeouts.steady_s)
        start = time.time()
        run = PhaseRun(phase, repetition, self.recorder.open(f"{phase.name}#{repetition}", start))
        self._current = run
        if problems:
            run.notes.append(say("not_steady_before", problems=problems))
        run.skipped = self.system.missing_for(phase)
        if run.skipped:
            self.on_step(f"{label}: " + i18n._("skipped: {why}").format(
                why="; ".join(i18n._(MISSING[key]) for key in run.skipped)))
            self.recorder.close(run.window, time.time())
            return run
        run.unmeasured = self.system.unmeasured_for(phase)
        if run.unmeasured:
            self.on_step(f"{label}: " + i18n._("runs as far as it can, not measured: {why}").format(
                why="; ".join(i18n._(MISSING[key]) for key in run.unmeasured)))
        run.voter_before = await self.voter_stats()
        self.on_step(f"{label}: " + i18n._("load before the fault"))
        await asyncio.sleep(exp.load.settle_s)
        if not phase.has_fault:
            self.on_step(f"{label}: " + i18n._("measuring ({seconds} s)").format(seconds=f"{exp.hold_s(phase):g}"))
            await asyncio.sleep(exp.hold_s(phase))
        else:
            await self._fault_cycle(run, label, index)
            if self.system.leaves_down(phase):  # nothing brings the replica back: no wait for a steady system
                run.notes.append(say("phase_left_down", replicas=list(phase.replicas)))
            else:
                self.on_step(f"{label}: " + i18n._("load until steady"))
                problems = await self.wait_steady(exp.timeouts.steady_s)
                if problems:
                    run.notes.append(say("not_steady_after", problems=problems))
        await asyncio.sleep(exp.load.settle_s)
        self.recorder.close(run.window, time.time())
        run.voter_after = await self.voter_stats()
        return run

    async def _fault_cycle(self, run: PhaseRun, label: str, index: int) -> None:
        exp, phase = self.experiment, run.phase
        since = time.time()
        run.injected_at = since
        run.fault_window = self.recorder.open(f"{phase.name}#{run.repetition}:fault", since)
        if phase.expect_quorum_loss:
            run.quorum = QuorumWatch(since)
            self.recorder.listeners.append(run.quorum)
        hold = exp.hold_s(phase)
        self.on_step(f"{label}: " + i18n.ngettext("injecting on replica {replicas}", "injecting on replicas {replicas}",
                                                   len(phase.replicas)).format(
            replicas=", ".join(map(str, phase.replicas))))
        detected: dict[int, asyncio.Task[None]] = {}  # one wait per replica, from its first fault's injection

        async def one(number: int, step: Any) -> None:
            """A fault's life: wait its start, inject, hold it until it is detected (at most timeouts.detect_s) and
            its hold is over, clear it."""
            await asyncio.sleep(max(0.0, since + step.start_s - time.time()))
            for replica, at in await self.inject_step(run, step, number, index):
                if replica not in detected:
                    detected[replica] = asyncio.create_task(self._wait_detected(run, replica, at))
            if not step.spec.clears:  # a crash: the system brings the replica back (a supervisor, or its command)
                await asyncio.gather(*(detected[r] for r in step.replicas if r in detected))
                await self.recover_step(run, step)
                return
            await asyncio.gather(*(detected[r] for r in step.replicas if r in detected))
            until = since + step.start_s + (step.hold_s if step.hold_s is not None else hold - step.start_s)
            if until > time.time():
                self.on_step(f"{label}: " + i18n._("fault held ({seconds} s window)").format(seconds=f"{hold:g}"))
                await asyncio.sleep(until - time.time())
            self.on_step(f"{label}: " + i18n._("clearing"))
            await self.clear_step(run, step)

        steps = [asyncio.create_task(one(n, step)) for n, step in enumerate(phase.steps)]
        self.on_step(f"{label}: " + i18n._("waiting for detection"))
        try:
            outcomes = await asyncio.gather(*steps, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                if isinstance(outcome, BaseException):
                    if not isinstance(outcome, (TimeoutError, RuntimeError, aiohttp.ClientError, OSError)):
                        raise outcome
                    run.error = run.error or say("injection_failed", error=said_of(outcome))
            await asyncio.gather(*detected.values())
        except BaseException:  # Ctrl-C or an abort condition: no wait outlives the phase
            for task in [*steps, *detected.values()]:
                task.cancel()
            raise
        if run.error and not run.episodes:
            self.recorder.close(run.fault_window, time.time())
            return
        measured = not run.unmeasured
        if any(not step.spec.clears for step in phase.steps):  # a crash: held until the phase's hold is over
            if measured:
                self.on_step(f"{label}: " + i18n._("waiting for the restarted replica"))
                await self._wait_recovered(run, since)
            if since + hold > time.time():
                self.on_step(f"{label}: " + i18n._("fault held ({seconds} s window)").format(seconds=f"{hold:g}"))
                await asyncio.sleep(since + hold - time.time())
        cleared: list[float] = [f["cleared_at"] for f in run.faults if f.get("cleared_at") is not None]
        recovered: list[float] = [e["recovered_at"] for e in run.episodes.values() if e.get("recovered_at") is not None]
        run.fault_ended_at = max(cleared) if cleared else (max(recovered) if recovered else time.time())
        self.recorder.close(run.fault_window, run.fault_ended_at)
        if measured:
            self.on_step(f"{label}: " + i18n._("waiting for recovery"))
            await self._wait_recovered(run, since)
        else:  # what was seen of it all the same: the activation, the observer's own sight, the detectors'
            await self._wait_recovered(run, since, needs="activated_at", timeout_s=0.0)

    async def _wait_detected(self, run: PhaseRun, replica: int, since: float) -> None:
        """The detection, or (a system without a monitor) the observer's own first sight of the fault."""
        needs = "observer_detected_at" if "monitor" in run.unmeasured else "detected_at"
        episode = await self.system.wait_episode(replica, since, needs, self.experiment.timeouts.detect_s)
        if episode is not None:
            run.episodes[replica] = _episode(episode)

    async def recover_step(self, run: PhaseRun, step: Any) -> None:
        """A crash detected: the system brings its replicas back where that is the lab's to do (a restart command);
        the command's start clears the fault."""
        self._cleared(run, step, await self.system.recover(step.spec.kind, step.replicas), "process_restarted")

    async def _wait_recovered(self, run: PhaseRun, since: float, needs: str = "recovered_at",
                              timeout_s: float | None = None) -> None:
        timeout = self.experiment.timeouts.recover_s if timeout_s is None else timeout_s
        recovered = await asyncio.gather(*(self.system.wait_episode(r, since, needs, timeout)
                                           for r in run.phase.replicas))
        for replica, episode in zip(run.phase.replicas, recovered, strict=True):
            if episode is not None:
                run.episodes[replica] = _episode(episode)

    def schedule(self) -> list[tuple[PhaseSpec, int, bool]]:
        """(phase, repetition, runs) in order: every repetition of the phases, then those that leave a replica down
        for good, once (their other repetitions are reported as not run)."""
        exp = self.experiment
        last = [p for p in exp.phases if self.system.leaves_down(p)]
        order = [(p, r, True) for r in range(1, exp.repeat + 1) for p in exp.phases if p not in last]
        return order + [(p, r, r == 1) for p in last for r in range(1, exp.repeat + 1)]

    async def _run_phases(self) -> None:
        for index, (phase, repetition, runs) in enumerate(self.schedule(), start=1):
            if runs:
                run = await self.run_phase(phase, repetition, index)
            else:
                now = time.time()
                run = PhaseRun(phase, repetition, self.recorder.open(f"{phase.name}#{repetition}", now),
                               skipped=["down"])
                self.recorder.close(run.window, now)
            self.runs.append(run)
            if run.quorum is not None:
                run.quorum.until = run.window.end
            self.on_phase(run.describe(self.experiment))

    def _keep_cut_phase(self, why: Said) -> None:
        """The phase Ctrl-C or an abort condition cut short goes into the report too, marked as such."""
        run = self._current
        if run is None or run in self.runs:
            return
        now = time.time()
        if run.window.end is None:
            self.recorder.close(run.window, now)
        if run.fault_window is not None and run.fault_window.end is None:
            self.recorder.close(run.fault_window, now)
        if run.quorum is not None:
            run.quorum.until = now
        run.error = why
        self.runs.append(run)

    # ---- the whole run --------------------------------------------------------------------------

    async def _after(self, data: dict[str, Any]) -> None:
        """After the rollback: the hypothesis again and the data check (an error in them is said, not raised)."""
        exp = self.experiment
        try:
            self.on_step(i18n._("checking the steady state again after the rollback"))
            problems = await self.wait_steady(exp.timeouts.steady_s)
            hypothesis = await self.system.hypothesis(exp.steady_state)
            data["steady_state_after"] = {"problems": problems, "hypothesis": hypothesis}
            self.on_step(i18n._("checking the data: every accepted order applied exactly once, replicas converged, "
                                "every voted read right, monotonic and within the staleness bound"))
            history = self.load.result if self.load else None
            data["data_check"] = await self.system.check_data(history, timeout_s=exp.timeouts.data_s)
            data["failures"] = await self.system.failures()
            data["voting_after"] = await self.voter_stats()
        except Exception as exc:  # the system failing its checks is a finding, and the report must still be written
            data.setdefault("data_check", {"valid": "unknown", "checks": {},
                                           "why": f"error during the checks after the run: {type(exc).__name__}: "
                                                  f"{exc}"[:500]})

    async def run(self) -> dict[str, Any]:
        """Hypothesis, load, phases, rollback, hypothesis again, data check; returns everything the report needs."""
        exp = self.experiment
        started_at = time.time()
        data: dict[str, Any] = {"started_at": started_at, "experiment": exp.as_run()}
        await self.client.start()
        await self.system.start()
        data["system"] = self.system.describe()
        self.system.on_lost = self._system_lost
        load_task: asyncio.Task[Any] | None = None
        watch: AbortWatch | None = None
        watch_task: asyncio.Task[None] | None = None
        try:
            checks = await self.check_preconditions()
            try:
                data.update(await self.system.prepare(exp, self.on_step))
            except SystemUnavailable as exc:
                raise SteadyStateError(said_of(exc)) from None
            data["steady_state_before"] = await self.check_steady_state(checks)
            await self.system.watch()
            data["monitor"] = await self.monitor_status()
            data["voting_before"] = await self.voter_stats()
            factory = Workload(self.system.load_api(), exp.load.target, exp.seed,
                               order_ratio=self.system.load_order_ratio(exp.load.order_ratio))
            self.load = OpenLoopLoad(factory, exp.load.rate_rps, LOAD_FOREVER_S, target=exp.load.target,
                                     timeout_s=exp.load.request_timeout_s, on_result=self.recorder)
            load_task = asyncio.create_task(self.load.run(), name="load")
            self._phases_task = asyncio.create_task(self._run_phases(), name="phases")
            watch = AbortWatch(exp.abort, self.recorder.seconds, self._abort_now)
            watch_task = asyncio.create_task(watch.run(), name="abort-conditions")
            try:
                await self._phases_task
            except asyncio.CancelledError:
                if self._interrupt:
                    self.interrupted = True
                    self._keep_cut_phase(say("interrupted_in_phase"))
                elif self.stopped_by is not None:
                    self._keep_cut_phase(say("stopped_by", condition=self.stopped_by))
                elif self.lost is not None:
                    self.aborted = say("system_lost", why=self.lost)
                    self._keep_cut_phase(self.aborted)
                else:
                    raise
        except SteadyStateError as exc:
            self.aborted = exc.said
        except Exception as exc:  # any error: the rollback runs, and the partial report says why
            self.aborted = say("run_error", error=f"{type(exc).__name__}: {exc}"[:500])
            self._keep_cut_phase(self.aborted)
        finally:
            if watch_task is not None:
                watch_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch_task
            data["rollback_problems"] = await self.rollback()
            if self.load is not None:
                self.load.stop()
            if load_task is not None:
                with contextlib.suppress(Exception):
                    await load_task
        try:
            if self.aborted is None:
                await self._after(data)
        finally:
            try:
                restored = await self.system.restore(self.on_step) if self.restore_settings else None
                if restored is not None:
                    data["lab_settings_restored"] = restored
            except SystemUnavailable as exc:
                data["rollback_problems"].append(say("settings_not_restored", error=said_of(exc)))
            finally:
                await self.system.unwatch()
                data["system"] = self.system.describe()  # as probed and as it ran (its observer's ground truth)
                await self.system.stop()
                await self.client.stop()
        data["ended_at"] = time.time()
        data["interrupted"] = self.interrupted
        data["aborted"] = self.aborted
        data["stopped_by"] = self.stopped_by
        data["results"] = [run.describe(exp) for run in self.runs]
        data["timeseries"] = self.recorder.timeseries()[1:-1]  # the first and last seconds are partial
        data["events"] = self.system.recorded_events()
        data["timeline"] = sorted(self.timeline, key=lambda e: e["at"] or 0)
        data["load_total"] = self.recorder.total.describe(
            max(0.001, (self.load.result.wall_s if self.load else 0.0)))
        if self.load is not None:
            data["load_total"]["max_send_lag_ms"] = round(self.load.result.max_send_lag_ms, 3)
            data["load_total"]["accepted_orders"] = len(self.load.result.accepted_order_ids)
            data["load_total"]["ambiguous"] = dict(self.load.result.ambiguous)  # writes of unknown outcome (info)
            data["load_total"]["requests_by_kind"] = {k: dict(v) for k, v in sorted(self.load.result.by_kind.items())}
        return data
