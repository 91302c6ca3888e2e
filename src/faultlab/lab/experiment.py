"""The experiment runner: open-loop load throughout, the guide's phases repeated, TTD/TTR from the monitor's events.

Shaped like a Chaos Toolkit experiment: a steady-state check first (abort when the lab is not healthy),
then the method (phases), and rollbacks that always run — every fault cleared and every stopped replica
started again, Ctrl-C included. Each phase: load keeps running; inject; TTD from the monitor's episode for
that replica; hold the fault; clear; TTR from the episode; keep the load until the lab is steady again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from faultlab import i18n
from faultlab.config import Settings
from faultlab.lab.checkers import check_data
from faultlab.lab.events import MonitorEvents
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.lab.phases import Phase, Thresholds, select_phases
from faultlab.lab.recorder import LoadRecorder, QuorumWatch, Window
from faultlab.runtime.process import wait_spares_ready

LOAD_FOREVER_S = 7 * 24 * 3600.0


class SteadyStateError(RuntimeError):
    """The lab is not healthy enough to start (or resume) the experiment; the message says what is wrong."""


@dataclass
class ExperimentConfig:
    """What to run: phases, repetitions, load rate and the time each fault is held."""

    phases: list[Phase] = field(default_factory=lambda: select_phases(None))
    repeat: int = 3
    rate: float = 50.0
    duration_s: float = 5.0
    settle_s: float = 2.0
    seed: int = 1
    order_ratio: float = 0.2
    detect_timeout_s: float = 15.0
    recover_timeout_s: float = 30.0
    steady_timeout_s: float = 30.0
    request_timeout_s: float = 5.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    reset: bool = True  # start from fresh data (`faultlab reset`): every run measures the same shop

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError("repeat must be at least 1")
        if self.rate <= 0 or self.duration_s <= 0 or self.settle_s < 0:
            raise ValueError("rate and duration must be positive, settle not negative")

    def describe(self) -> dict[str, Any]:
        return {"phases": [p.name for p in self.phases], "repeat": self.repeat, "rate": self.rate,
                "duration_s": self.duration_s, "settle_s": self.settle_s, "seed": self.seed,
                "order_ratio": self.order_ratio, "detect_timeout_s": self.detect_timeout_s,
                "recover_timeout_s": self.recover_timeout_s, "request_timeout_s": self.request_timeout_s,
                "load_target": "mix", "reset": self.reset}


@dataclass
class PhaseRun:
    """What happened in one phase of one repetition; load figures are read from its windows at the end."""

    phase: Phase
    repetition: int
    window: Window
    fault_window: Window | None = None
    quorum: QuorumWatch | None = None
    injected_at: float | None = None
    fault_ended_at: float | None = None
    episodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    voter_before: dict[str, Any] | None = None
    voter_after: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def ttd_ms(self) -> float | None:
        """The phase's TTD: the longest of its replicas' (for two-down, until both were detected)."""
        return _longest([e.get("ttd_ms") for e in self.episodes.values()], len(self.phase.replicas))

    def ttr_ms(self) -> float | None:
        values = [e.get("ttr_ms") if e.get("recovered_at") is not None else None for e in self.episodes.values()]
        return _longest(values, len(self.phase.replicas))

    def describe(self, thresholds: Thresholds) -> dict[str, Any]:
        load = self.window.describe()
        quorum = self.quorum.describe() if self.quorum else None
        if quorum is not None and self.voter_before and self.voter_after:
            quorum["voter_quorum_not_reached"] = (self.voter_after.get("quorum_not_reached", 0)
                                                  - self.voter_before.get("quorum_not_reached", 0))
        ttd, ttr = self.ttd_ms(), self.ttr_ms()
        missed = thresholds.check(self.phase, ttd, ttr, load, quorum)
        if self.error:
            missed.insert(0, f"error: {self.error}")
        notes = list(self.notes)
        for e in self.episodes.values():
            if e.get("detected_at") is not None and e.get("activated_at") is not None \
                    and e["detected_at"] < e["activated_at"]:
                notes.append(f"replica {e['replica']}: detected {(e['activated_at'] - e['detected_at']) * 1000:.1f} ms "
                             "before the recorded activation (the monitor reports TTD 0)")
        by_detector: dict[str, float | None] = {}
        for e in self.episodes.values():
            for name, value in (e.get("ttd_ms_by_detector") or {}).items():
                if value is not None:
                    by_detector[name] = max(by_detector.get(name) or 0.0, value)
        return {
            "phase": self.phase.name, "repetition": self.repetition, "replicas": list(self.phase.replicas),
            "fault": self.phase.fault or ({"kind": "stop"} if self.phase.action == "stop" else None),
            "ttd_ms": ttd, "ttr_ms": ttr, "load_test_result": load,
            "during_fault": self.fault_window.describe() if self.fault_window else None,
            "started_at": self.window.start, "ended_at": self.window.end,
            "injected_at": self.injected_at, "fault_ended_at": self.fault_ended_at,
            "detected_by": sorted({str(e.get("detected_by")) for e in self.episodes.values()
                                   if e.get("detected_by")}) or None,
            "ttd_ms_by_detector": by_detector or None,
            "episodes": [self.episodes[r] for r in sorted(self.episodes)],
            "quorum": quorum,
            "voting": _voting_delta(self.voter_before, self.voter_after),
            "passed": not missed, "missed": missed, "notes": notes,
        }


def _episode(event: dict[str, Any]) -> dict[str, Any]:
    """The episode carried by a monitor event, without the event's own fields (its last step kept as `last_event`)."""
    episode = {k: v for k, v in event.items() if k not in ("id", "type", "phase")}
    episode["last_event"] = event.get("phase")
    return episode


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
    """Runs the configured phases against a running lab (reached over HTTP with the operator token)."""

    def __init__(self, settings: Settings, config: ExperimentConfig,
                 on_step: Callable[[str], None] | None = None,
                 on_phase: Callable[[dict[str, Any]], None] | None = None) -> None:
        if not settings.admin_token:
            raise ValueError("the experiment needs the operator token (start the lab, or set FAULTLAB_ADMIN_TOKEN)")
        self.settings = settings
        self.config = config
        self.on_step = on_step or (lambda _msg: None)
        self.on_phase = on_phase or (lambda _result: None)
        self.recorder = LoadRecorder()
        self.events = MonitorEvents(settings.service_url("monitor"))
        self.runs: list[PhaseRun] = []
        self.interrupted = False
        self.aborted: str | None = None
        self.load: OpenLoopLoad | None = None
        self.timeline: list[dict[str, Any]] = []
        self._auth = {"Authorization": f"Bearer {settings.admin_token}"}
        self._session: aiohttp.ClientSession | None = None
        self._phases_task: asyncio.Task[None] | None = None
        self._current: PhaseRun | None = None
        self._interrupt = False

    @property
    def supervisor(self) -> str:
        return f"http://127.0.0.1:{self.settings.supervisor_port}"

    def interrupt(self) -> None:
        """Stop after rolling back (the CLI calls this on Ctrl-C): faults cleared, a partial report written."""
        self._interrupt = True
        if self._phases_task is not None:
            self._phases_task.cancel()

    # ---- HTTP helpers ---------------------------------------------------------------------------

    async def _call(self, method: str, url: str, body: Any = None, auth: bool = False,
                    timeout_s: float = 5.0) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.request(method, url, data=orjson.dumps(body) if body is not None else None,
                                         headers={**(self._auth if auth else {}),
                                                  **({"Content-Type": "application/json"} if body else {})},
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            raw = await resp.read()
            try:
                return resp.status, orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return resp.status, raw.decode(errors="replace")

    async def monitor_status(self) -> dict[str, Any]:
        status, body = await self._call("GET", f"{self.settings.service_url('monitor')}/status")
        if status != 200:
            raise SteadyStateError(f"the monitor answered HTTP {status}")
        return dict(body)

    async def voter_stats(self) -> dict[str, Any] | None:
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            status, body = await self._call("GET", f"{self.settings.service_url('voter')}/voting/stats")
            if status == 200:
                return dict(body)
        return None

    # ---- steady state ---------------------------------------------------------------------------

    @staticmethod
    def unsteady(status: dict[str, Any]) -> list[str]:
        """Why the lab is not steady: replicas not ON or with a fault still active (empty when steady)."""
        problems = []
        for inst in status.get("instances", []):
            faults = (inst.get("health") or {}).get("faults") or []
            if inst.get("status") != "ON":
                problems.append(f"replica {inst['replica']} is {inst.get('status')} ({inst.get('reason') or '-'})")
            elif faults:
                problems.append(f"replica {inst['replica']} has faults {', '.join(faults)}")
        return problems

    async def wait_steady(self, timeout_s: float) -> list[str]:
        """Wait until every replica is ON, caught up and fault-free; the remaining problems after the timeout."""
        deadline = time.monotonic() + timeout_s
        problems: list[str] = ["monitor not reached"]
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError, SteadyStateError):
                problems = self.unsteady(await self.monitor_status())
                if not problems:
                    return []
            await asyncio.sleep(0.1)
        return problems

    async def wait_spares(self, timeout_s: float = 30.0) -> bool:
        """A lab just started is still starting its warm spares (a Python process each, importing): wait until
        they are idle, or the first baseline measures their imports, not the lab. False after the timeout."""
        self.on_step(i18n._("waiting for the warm spares to finish starting"))

        async def processes() -> list[dict[str, Any]]:
            status, answer = await self._call("GET", f"{self.supervisor}/processes")
            return answer.get("processes", []) if status == 200 else []

        return await wait_spares_ready(processes, timeout_s)

    async def reset_lab(self) -> dict[str, Any]:
        """Fresh data before the first phase (the supervisor's reset): known stock, empty log, so two runs in a row
        measure the same shop."""
        self.on_step(i18n._("resetting the lab's data: fresh stock, empty log"))
        try:
            status, answer = await self._call("POST", f"{self.supervisor}/reset", auth=True, timeout_s=120)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise SteadyStateError(f"the lab could not be reset: {exc!r}") from None
        if status != 200:
            raise SteadyStateError(f"the lab could not be reset: HTTP {status} {answer}")
        return dict(answer)

    async def check_preconditions(self) -> dict[str, Any]:
        """What must hold before anything is touched (the data reset included): the supervisor answers, every
        process runs, and a lab with a network for the network phases."""
        self.on_step(i18n._("checking the lab"))
        checks: dict[str, Any] = {}
        try:
            status, procs = await self._call("GET", f"{self.supervisor}/processes")
            checks["supervisor"] = status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            checks["supervisor"] = False
        if not checks["supervisor"]:
            raise SteadyStateError(f"the supervisor's control API does not answer at {self.supervisor}")
        down = [p["name"] for p in procs["processes"] if not p["running"]]
        if down:
            raise SteadyStateError(f"processes not running: {', '.join(down)} (see `faultlab status`)")
        network = [p.name for p in self.config.phases if p.needs_netns]
        if network:
            status, answer = await self._call("GET", f"{self.supervisor}/netfaults", auth=True)
            checks["netns"] = status == 200 and bool(answer.get("netns"))
            if not checks["netns"]:
                raise SteadyStateError(f"phase(s) {', '.join(network)} need the namespace lab, where each service has "
                                       "its own network: start it with `sudo faultlab up --netns` (or run the "
                                       "experiment with --netns)")
        return checks

    async def check_steady_state(self, checks: dict[str, Any]) -> dict[str, Any]:
        """The hypothesis before anything is broken: replicas ON, a voted read and the orders API answer."""
        self.on_step(i18n._("checking the steady state"))
        checks = dict(checks)
        problems = await self.wait_steady(self.config.steady_timeout_s)
        if problems:
            raise SteadyStateError("the lab is not healthy: " + "; ".join(problems))
        checks["replicas_on"] = True
        checks["warm_spares_ready"] = await self.wait_spares()
        try:
            status, body = await self._call("GET", f"{self.settings.service_url('voter')}/inventory/voted")
            checks["voted_read"] = status
            status_orders, _ = await self._call("GET", f"{self.settings.service_url('orders')}/health")
            checks["orders_health"] = status_orders
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise SteadyStateError(f"a service does not answer: {exc!r}") from None
        if checks["voted_read"] != 200:
            raise SteadyStateError(f"the voter did not reach quorum on a read (HTTP {checks['voted_read']}): {body}")
        if checks["orders_health"] != 200:
            raise SteadyStateError(f"the orders service is not healthy (HTTP {checks['orders_health']})")
        checks["ok"] = True
        return checks

    # ---- faults ---------------------------------------------------------------------------------

    def _fault_body(self, phase: Phase, repetition: int, index: int) -> dict[str, Any]:
        body = dict(phase.fault)
        body.setdefault("seed", self.config.seed * 10_000 + repetition * 100 + index)
        return body

    async def inject(self, phase: Phase, repetition: int, index: int) -> None:
        if phase.action == "fault":
            body = self._fault_body(phase, repetition, index)
            for replica in phase.replicas:
                status, answer = await self._call("POST", f"{self.settings.replica_url(replica)}/faults", body,
                                                  auth=True)
                if status not in (201, 202):
                    raise RuntimeError(f"replica {replica} refused the fault: HTTP {status} {answer}")
                self.timeline.append({"at": answer["fault"]["activated_at"], "event": "fault_injected",
                                      "replica": replica, "fault": answer["fault"]})
        elif phase.action == "stop":
            answers = await asyncio.gather(*(self._call("POST", f"{self.supervisor}/processes/inventory-{r}/stop",
                                                        auth=True, timeout_s=15) for r in phase.replicas))
            for replica, (status, answer) in zip(phase.replicas, answers):
                if status != 200:
                    raise RuntimeError(f"the supervisor did not stop inventory-{replica}: HTTP {status} {answer}")
                self.timeline.append({"at": answer["stopping_at"], "event": "process_stopped", "replica": replica})
        elif phase.action == "netfault":
            body = dict(phase.fault)
            status, answer = await self._call("POST", f"{self.supervisor}/netfaults", body, auth=True, timeout_s=15)
            if status != 200:
                raise RuntimeError(f"the supervisor did not apply the network fault: HTTP {status} {answer}")
            for replica in phase.replicas:
                self.timeline.append({"at": answer["fault"]["activated_at"], "event": "fault_injected",
                                      "replica": replica, "fault": answer["fault"]})

    async def clear(self, phase: Phase) -> None:
        if phase.action == "fault" and not phase.restarts_process:
            for replica in phase.replicas:
                status, answer = await self._call("DELETE", f"{self.settings.replica_url(replica)}/faults", auth=True)
                if status == 200:
                    self.timeline.append({"at": answer["cleared_at"], "event": "fault_cleared", "replica": replica})
        elif phase.action == "stop":
            answers = await asyncio.gather(*(self._call("POST", f"{self.supervisor}/processes/inventory-{r}/start",
                                                        auth=True) for r in phase.replicas))
            for replica, (status, answer) in zip(phase.replicas, answers):
                if status == 200:
                    self.timeline.append({"at": answer["started_at"], "event": "process_started",
                                          "replica": replica})
        elif phase.action == "netfault":
            for replica in phase.replicas:
                status, answer = await self._call("DELETE", f"{self.supervisor}/netfaults?instance={replica}",
                                                  auth=True, timeout_s=15)
                if status == 200:
                    self.timeline.append({"at": answer["cleared_at"], "event": "fault_cleared", "replica": replica})

    async def rollback(self) -> list[str]:
        """Clear every fault on every replica and start every stopped process; what could not be done."""
        self.on_step(i18n._("rollback: clearing every fault"))
        problems: list[str] = []
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            status, procs = await self._call("GET", f"{self.supervisor}/processes")
            for proc in procs["processes"] if status == 200 else []:
                if not proc["running"]:
                    code, answer = await self._call("POST", f"{self.supervisor}/processes/{proc['name']}/start",
                                                    auth=True)
                    if code == 200:
                        self.timeline.append({"at": answer["started_at"], "event": "process_started",
                                              "replica": proc.get("replica"), "rollback": True})
        if any(p.needs_netns for p in self.config.phases):
            try:
                status, answer = await self._call("DELETE", f"{self.supervisor}/netfaults", auth=True, timeout_s=15)
                for fault in answer.get("cleared", []) if status == 200 else []:
                    self.timeline.append({"at": answer["cleared_at"], "event": "fault_cleared", "fault": fault,
                                          "replica": fault["params"].get("instance"), "rollback": True})
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problems.append(f"network faults not cleared ({type(exc).__name__})")
        for replica in self.settings.replica_ids:
            try:
                status, answer = await self._call("DELETE", f"{self.settings.replica_url(replica)}/faults",
                                                  auth=True, timeout_s=3)
                if status == 200 and answer.get("cleared"):
                    self.timeline.append({"at": answer["cleared_at"], "event": "fault_cleared", "replica": replica,
                                          "rollback": True})
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problems.append(f"replica {replica}: faults not cleared ({type(exc).__name__}); it may be restarting")
        return problems

    # ---- phases ---------------------------------------------------------------------------------

    async def run_phase(self, phase: Phase, repetition: int, index: int) -> PhaseRun:
        cfg = self.config
        label = i18n._("rep {n}/{total}").format(n=repetition, total=cfg.repeat) + f" · {phase.name}"
        self.on_step(f"{label}: " + i18n._("waiting for a steady lab"))
        problems = await self.wait_steady(cfg.steady_timeout_s)
        start = time.time()
        run = PhaseRun(phase, repetition, self.recorder.open(f"{phase.name}#{repetition}", start))
        self._current = run
        if problems:
            run.notes.append("not steady before the phase: " + "; ".join(problems))
        run.voter_before = await self.voter_stats()
        self.on_step(f"{label}: " + i18n._("load before the fault"))
        await asyncio.sleep(cfg.settle_s)
        if phase.action == "none":
            self.on_step(f"{label}: " + i18n._("measuring ({seconds} s)").format(seconds=f"{cfg.duration_s:g}"))
            await asyncio.sleep(cfg.duration_s)
        else:
            await self._fault_cycle(run, label, index)
            self.on_step(f"{label}: " + i18n._("load until steady"))
            problems = await self.wait_steady(cfg.steady_timeout_s)
            if problems:
                run.notes.append("not steady after the phase: " + "; ".join(problems))
        await asyncio.sleep(cfg.settle_s)
        self.recorder.close(run.window, time.time())
        run.voter_after = await self.voter_stats()
        return run

    async def _fault_cycle(self, run: PhaseRun, label: str, index: int) -> None:
        cfg, phase = self.config, run.phase
        since = time.time()
        run.injected_at = since
        run.fault_window = self.recorder.open(f"{phase.name}#{run.repetition}:fault", since)
        if phase.expect_quorum_loss:
            run.quorum = QuorumWatch(since)
            self.recorder.listeners.append(run.quorum)
        self.on_step(f"{label}: " + i18n._("injecting on replica(s) {replicas}").format(
            replicas=", ".join(map(str, phase.replicas))))
        try:
            await self.inject(phase, run.repetition, index)
        except (TimeoutError, RuntimeError, aiohttp.ClientError, OSError) as exc:
            run.error = f"injection failed: {exc}"
            self.recorder.close(run.fault_window, time.time())
            return
        self.on_step(f"{label}: " + i18n._("waiting for detection"))
        detected = await asyncio.gather(*(self.events.wait_episode(r, since, "detected_at", cfg.detect_timeout_s)
                                          for r in phase.replicas))
        for replica, episode in zip(phase.replicas, detected):
            if episode is not None:
                run.episodes[replica] = _episode(episode)
        if phase.restarts_process and phase.action == "fault":  # crash: the supervisor restarts it on its own
            self.on_step(f"{label}: " + i18n._("waiting for the restarted replica"))
            await self._wait_recovered(run, since)
            run.fault_ended_at = max((e.get("recovered_at") or since for e in run.episodes.values()), default=since)
        hold = since + cfg.duration_s - time.time()
        if hold > 0:
            self.on_step(f"{label}: " + i18n._("fault held ({seconds} s window)").format(seconds=f"{cfg.duration_s:g}"))
            await asyncio.sleep(hold)
        if not (phase.restarts_process and phase.action == "fault"):
            self.on_step(f"{label}: " + i18n._("clearing"))
            await self.clear(phase)
            run.fault_ended_at = time.time()
            self.recorder.close(run.fault_window, run.fault_ended_at)
            self.on_step(f"{label}: " + i18n._("waiting for recovery"))
            await self._wait_recovered(run, since)
        self.recorder.close(run.fault_window, run.fault_ended_at or time.time())

    async def _wait_recovered(self, run: PhaseRun, since: float) -> None:
        recovered = await asyncio.gather(*(self.events.wait_episode(r, since, "recovered_at",
                                                                    self.config.recover_timeout_s)
                                           for r in run.phase.replicas))
        for replica, episode in zip(run.phase.replicas, recovered):
            if episode is not None:
                run.episodes[replica] = _episode(episode)

    async def _run_phases(self) -> None:
        index = 0
        for repetition in range(1, self.config.repeat + 1):
            for phase in self.config.phases:
                index += 1
                run = await self.run_phase(phase, repetition, index)
                self.runs.append(run)
                if run.quorum is not None:
                    run.quorum.until = run.window.end
                self.on_phase(run.describe(self.config.thresholds))

    def _keep_interrupted_phase(self) -> None:
        """The phase Ctrl-C cut short goes into the report too, marked as interrupted."""
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
        run.error = "interrupted (Ctrl-C) during this phase"
        self.runs.append(run)

    # ---- the whole run --------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Steady-state check, load, phases, rollback, data check; returns everything the report needs."""
        cfg = self.config
        started_at = time.time()
        data: dict[str, Any] = {"started_at": started_at, "config": cfg.describe()}
        self._session = aiohttp.ClientSession()
        load_task: asyncio.Task[Any] | None = None
        try:
            checks = await self.check_preconditions()
            if cfg.reset:
                data["reset"] = await self.reset_lab()
            data["steady_state_before"] = await self.check_steady_state(checks)
            await self.events.start()
            data["monitor"] = await self.monitor_status()
            data["voting_before"] = await self.voter_stats()
            factory = request_factory(self.settings, "mix", cfg.seed, order_ratio=cfg.order_ratio)
            self.load = OpenLoopLoad(factory, cfg.rate, LOAD_FOREVER_S, target="mix",
                                     timeout_s=cfg.request_timeout_s, on_result=self.recorder)
            load_task = asyncio.create_task(self.load.run(), name="load")
            self._phases_task = asyncio.create_task(self._run_phases(), name="phases")
            try:
                await self._phases_task
            except asyncio.CancelledError:
                if not self._interrupt:
                    raise
                self.interrupted = True
                self._keep_interrupted_phase()
        except SteadyStateError as exc:
            self.aborted = str(exc)
        finally:
            data["rollback_problems"] = await self.rollback()
            if self.load is not None:
                self.load.stop()
            if load_task is not None:
                with contextlib.suppress(Exception):
                    await load_task
        if self.aborted is None:
            self.on_step(i18n._("waiting for the lab to be steady after the rollback"))
            data["steady_state_after"] = {"problems": await self.wait_steady(cfg.steady_timeout_s)}
            self.on_step(i18n._("checking the data: every accepted order applied exactly once, replicas converged, "
                                "every voted read right and monotonic"))
            history = self.load.result if self.load else None
            data["data_check"] = await check_data(self.settings, history.accepted_order_ids if history else [],
                                                  timeout_s=60, reads=history.reads if history else [],
                                                  ambiguous=history.ambiguous_writes if history else [],
                                                  refused_keys=history.refused_keys if history else [])
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                status, body = await self._call("GET", f"{self.settings.service_url('monitor')}/failures")
                data["failures"] = body.get("failures", []) if status == 200 else []
            data["voting_after"] = await self.voter_stats()
        await self.events.stop()
        await self._session.close()
        data["ended_at"] = time.time()
        data["interrupted"] = self.interrupted
        data["aborted"] = self.aborted
        data["results"] = [run.describe(cfg.thresholds) for run in self.runs]
        data["timeseries"] = self.recorder.timeseries()[1:-1]  # the first and last seconds are partial
        data["events"] = self.events.events
        data["timeline"] = sorted(self.timeline, key=lambda e: e["at"] or 0)
        data["load_total"] = self.recorder.total.describe(
            max(0.001, (self.load.result.wall_s if self.load else 0.0)))
        if self.load is not None:
            data["load_total"]["max_send_lag_ms"] = round(self.load.result.max_send_lag_ms, 3)
            data["load_total"]["accepted_orders"] = len(self.load.result.accepted_order_ids)
            data["load_total"]["ambiguous"] = dict(self.load.result.ambiguous)  # writes of unknown outcome (info)
            data["load_total"]["requests_by_kind"] = {k: dict(v) for k, v in sorted(self.load.result.by_kind.items())}
        return data
