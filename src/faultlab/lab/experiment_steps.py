"""The experiment runner's steps (`ExperimentSteps`): its view of the system, the steady state, each fault injected and
cleared, and the phases in order; `ExperimentRunner` (lab/experiment.py) runs them as a whole."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.said import Said, SaidError, said_of, said_problem, say
from faultlab.lab.experiment_check import lab_problems
from faultlab.lab.experiment_file import Experiment, PhaseSpec
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.phase_run import PhaseRun
from faultlab.lab.probes import failures
from faultlab.lab.recorder import LoadRecorder, QuorumWatch
from faultlab.lab.report_model import PhaseResult
from faultlab.lab.systems.base import MISSING, Cleared, SystemUnavailable, SystemUnderTest
from faultlab.lab.systems.shop import ShopSystem

STEP_SEED = 1_000_000  # the seed of a phase's second fault is the first's plus this (the first keeps the old seeds)


class SteadyStateError(SaidError):
    """The lab is not healthy enough to start (or resume) the experiment; its sentence says what is wrong."""


def _episode(event: dict[str, Any]) -> dict[str, Any]:
    """The episode carried by a monitor event, without the event's own fields (its last step kept as `last_event`)."""
    episode = {k: v for k, v in event.items() if k not in ("id", "type", "phase")}
    episode["last_event"] = event.get("phase")
    return episode


class ExperimentSteps:
    """The steps of an experiment against the system under test, each on its own; the whole run is `ExperimentRunner`."""

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

