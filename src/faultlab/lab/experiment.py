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
from typing import Any

from faultlab.core import i18n
from faultlab.core.said import Said, render, said_of, say
from faultlab.lab.abort import AbortWatch
from faultlab.lab.experiment_steps import ExperimentSteps, SteadyStateError
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.systems.base import SystemUnavailable
from faultlab.lab.workload import Workload

LOAD_FOREVER_S = 7 * 24 * 3600.0


class ExperimentRunner(ExperimentSteps):
    """Runs an experiment against a running lab (reached over HTTP with the operator token)."""

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
