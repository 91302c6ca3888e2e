"""The study's recording on the real lab: load throughout, a fault-free stretch, the same on a noisy host, then each
fault kind × N repetitions with known activation and clear times; the monitor's observations go to trace files.

Rollback always runs: every fault cleared, the CPU hog stopped, the monitor's recording closed, the load stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.i18n import _, ngettext
from faultlab.core.said import Said, render_all, say
from faultlab.detectors import settings_params
from faultlab.faults.registry import studied
from faultlab.lab.load import OpenLoopLoad
from faultlab.lab.study.hog import CpuHog
from faultlab.lab.study.traces import Segment, TraceRecorder
from faultlab.lab.workload import request_factory

# The kinds the study injects and their parameters: each kind declares its study hold and example in the registry.
FAULTS: dict[str, dict[str, Any]] = {kind: {"kind": kind, **spec.example} for kind, spec in studied().items()}
HOLD_FACTOR: dict[str, float] = {kind: spec.study_hold or 1.0 for kind, spec in studied().items()}
LOAD_FOREVER_S = 7 * 24 * 3600.0


@dataclass
class StudyConfig:
    """Durations and repetitions of the recording; the defaults make a real study (~30 minutes)."""

    quiet_s: float = 600.0
    noisy_s: float = 600.0
    reps: int = 10
    kinds: list[str] = field(default_factory=lambda: list(FAULTS))
    hold_s: float = 5.0
    settle_s: float = 2.0
    warmup_s: float = 3.0
    rate: float = 50.0
    order_ratio: float = 0.2
    hog_procs: int = field(default_factory=lambda: os.cpu_count() or 2)
    hog_nice: int = -10
    hog_burst_ms: float = 300.0
    hog_period_ms: float = 3000.0
    seed: int = 1
    steady_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in FAULTS]
        if unknown:
            raise ValueError(ngettext("unknown fault kind {unknown}; known: {known}",
                                      "unknown fault kinds {unknown}; known: {known}", len(unknown)).format(
                unknown=", ".join(unknown), known=", ".join(FAULTS)))
        if self.reps < 0 or self.quiet_s < 0 or self.noisy_s < 0 or self.hog_procs < 0:
            raise ValueError(_("durations, repetitions and hog processes must not be negative"))
        if self.rate <= 0 or self.hold_s <= 0 or self.warmup_s < 1:
            raise ValueError(_("rate and hold must be positive, warm-up at least 1 s"))
        if not 0 < self.hog_burst_ms <= self.hog_period_ms or not -20 <= self.hog_nice <= 19:
            raise ValueError(_("the hog needs 0 < burst <= period and a nice value in -20..19"))
        if not self.kinds and not self.quiet_s and not self.noisy_s:
            raise ValueError(_("nothing to record: no fault-free stretch and no fault kind"))

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it was."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


class StudyRunner:
    """Records the study's segments against a running lab (reached over HTTP with the operator token)."""

    def __init__(self, settings: Settings, config: StudyConfig, run_dir: Path,
                 on_step: Callable[[str], None] | None = None) -> None:
        if not settings.admin_token:
            raise ValueError(_("the study needs the operator token (start the lab, or set FAULTLAB_ADMIN_TOKEN)"))
        self.settings = settings
        self.config = config
        self.run_dir = run_dir
        self.on_step = on_step or (lambda _msg: None)
        self.faults: list[dict[str, Any]] = []
        self.loads: list[dict[str, Any]] = []
        self.notes: list[Said] = []  # recorded sentences (core/said.py)
        self.hog: CpuHog | None = None
        self.load_samples: list[tuple[float, float]] = []
        self.client = LabClient(settings)

    async def monitor_status(self) -> dict[str, Any]:
        return dict(await self.client.monitor_status())

    async def wait_steady(self) -> list[Said]:
        """Every replica ON and fault-free; the problems left after the timeout (empty when steady)."""
        deadline = time.monotonic() + self.config.steady_timeout_s
        problems = [say("monitor_not_reached")]
        while time.monotonic() < deadline:
            with contextlib.suppress(ApiCallError, KeyError, TypeError):
                status = await self.monitor_status()
                problems = [say("replica_is", replica=i["replica"], status=i["status"]) for i in status["instances"]
                            if i["status"] != "ON" or (i.get("health") or {}).get("faults")]
                if not problems:
                    return []
            await asyncio.sleep(0.1)
        return problems

    def current_setting(self, status: dict[str, Any]) -> dict[str, Any]:
        """The lab's detector and its parameters (from the lab's settings: the monitor runs with the same)."""
        s = self.settings
        return {"detector": s.detector, "params": settings_params(s.detector, s.failure_threshold,
                                                                 s.recovery_threshold, s.detector_params),
                "monitor_says": status.get("detector")}

    async def run(self) -> dict[str, Any]:
        """Record every segment; returns the study's metadata (segments, faults, load, machine)."""
        cfg = self.config
        started = time.time()
        meta: dict[str, Any] = {"started_at": started, "config": cfg.describe(), "machine_before": machine()}
        await self.client.start()
        recorder = TraceRecorder(self.client, self.run_dir)
        load = OpenLoopLoad(request_factory(self.settings, "mix", seed=cfg.seed, order_ratio=cfg.order_ratio),
                            rate=cfg.rate, duration_s=LOAD_FOREVER_S, target="mix", timeout_s=2.0)
        load_task: asyncio.Task[Any] | None = None
        sampler = asyncio.create_task(self._sample_load())
        try:
            self.on_step(_("waiting for a steady lab"))
            problems = await self.wait_steady()
            if problems:
                raise RuntimeError(_("the lab is not steady:") + " " + "; ".join(render_all(problems)))
            meta["current"] = self.current_setting(await self.monitor_status())
            load_task = asyncio.create_task(load.run())
            await recorder.start()
            if cfg.quiet_s:
                await self._stretch(recorder, "quiet", cfg.quiet_s)
            if cfg.noisy_s:
                self.hog = CpuHog(cfg.hog_procs, cfg.warmup_s + cfg.noisy_s, cfg.hog_nice, cfg.hog_burst_ms,
                                  cfg.hog_period_ms)
                self.hog.start()
                try:
                    await self._stretch(recorder, "noisy", cfg.noisy_s)
                finally:
                    self.hog.stop()
                meta["hog"] = self.hog.describe()
            for kind in cfg.kinds:
                if cfg.reps:
                    await self._fault_segment(recorder, kind)
        finally:
            self.on_step(_("rollback: clearing every fault, stopping the hog, the recording and the load"))
            if self.hog is not None:
                self.hog.stop()
            await self._clear_all()
            sampler.cancel()
            await recorder.stop()
            load.stop()
            if load_task is not None:
                result = await load_task
                self.loads.append(result.describe())
            await self.client.stop()
        meta.update(ended_at=time.time(), machine_after=machine(), segments=[s.describe() for s in recorder.segments],
                    faults=self.faults, observations=recorder.counts, outside_segments=recorder.outside,
                    dropped=recorder.dropped, notes=self.notes, host_load=self._host_load(recorder.segments),
                    load={k: v for k, v in (self.loads[0] if self.loads else {}).items() if k != "per_second"})
        return meta

    async def _sample_load(self) -> None:
        """The host's 1-minute load average every 5 s (other jobs share the machine: the figures say how busy)."""
        while True:
            self.load_samples.append((time.time(), os.getloadavg()[0]))
            await asyncio.sleep(5.0)

    def _host_load(self, segments: list[Segment]) -> dict[str, Any]:
        out = {}
        for seg in segments:
            values = [v for t, v in self.load_samples if seg.start <= t <= (seg.end or t)]
            if values:
                out[seg.name] = {"min": round(min(values), 2), "mean": round(sum(values) / len(values), 2),
                                 "max": round(max(values), 2), "samples": len(values)}
        return out

    async def _stretch(self, recorder: TraceRecorder, kind: str, seconds: float) -> None:
        now = time.time()
        segment = Segment(kind, kind, now, now + self.config.warmup_s)
        recorder.begin(segment)
        cfg = self.config
        step = _("{kind} stretch: {seconds} s (+{warmup} s warm-up)").format(
            kind=kind, seconds=f"{seconds:g}", warmup=f"{cfg.warmup_s:g}")
        if kind == "noisy":
            step += ", " + ngettext("CPU hog of {procs} process, {burst} ms busy every {period} ms at nice {nice}",
                                    "CPU hog of {procs} processes, {burst} ms busy every {period} ms at nice {nice}",
                                    cfg.hog_procs).format(procs=cfg.hog_procs, burst=f"{cfg.hog_burst_ms:g}",
                                                          period=f"{cfg.hog_period_ms:g}", nice=cfg.hog_nice)
        self.on_step(step)
        await asyncio.sleep(self.config.warmup_s + seconds)
        segment.end = time.time()
        await recorder.drain()

    async def _fault_segment(self, recorder: TraceRecorder, kind: str) -> None:
        cfg = self.config
        problems = await self.wait_steady()
        if problems:
            self.notes.append(say("study_not_steady_segment", kind=kind, problems=problems))
        now = time.time()
        segment = Segment(f"fault-{kind}", "fault", now, now + cfg.warmup_s, fault_kind=kind)
        recorder.begin(segment)
        await asyncio.sleep(cfg.warmup_s)
        for rep in range(cfg.reps):
            replica = self.settings.replica_ids[rep % len(self.settings.replica_ids)]
            self.on_step(_("{kind} #{rep}/{reps} on replica {replica}").format(kind=kind, rep=rep + 1, reps=cfg.reps,
                                                                                replica=replica))
            problems = await self.wait_steady()
            if problems:
                self.notes.append(say("study_not_steady_injecting", kind=kind, repetition=rep + 1, problems=problems))
            await asyncio.sleep(cfg.settle_s)
            await self._fault(segment, kind, rep, replica)
        await asyncio.sleep(cfg.settle_s)
        segment.end = time.time()
        await recorder.drain()

    async def _fault(self, segment: Segment, kind: str, rep: int, replica: int) -> None:
        cfg = self.config
        body = {**FAULTS[kind], "seed": cfg.seed * 1000 + rep}
        status, answer = await self.client.send("POST", f"{self.client.replica(replica)}/faults", body, auth=True)
        if status not in (201, 202):
            raise RuntimeError(f"replica {replica} refused {kind}: HTTP {status} {answer}")
        activated = float(answer["fault"]["activated_at"])
        hold = cfg.hold_s * HOLD_FACTOR.get(kind, 1.0)
        await asyncio.sleep(max(0.0, activated + hold - time.time()))
        cleared = activated + hold  # a crash ends by itself: its deadline is the same hold
        if kind != "crash":
            status, answer = await self.client.send("DELETE", f"{self.client.replica(replica)}/faults", auth=True)
            if status == 200:
                cleared = float(answer["cleared_at"])
        problems = await self.wait_steady()
        episode = await self._episode(replica, activated)
        self.faults.append({"segment": segment.name, "kind": kind, "rep": rep + 1, "replica": replica,
                            "params": body, "activated_at": activated, "deadline": cleared,
                            "cleared_at": activated if kind == "crash" else cleared,  # a crash is over once it died
                            "monitor_ttd_ms": episode.get("ttd_ms"), "monitor_ttr_ms": episode.get("ttr_ms"),
                            "recovered": not problems})

    async def _episode(self, replica: int, activated: float) -> dict[str, Any]:
        """The live monitor's episode for this fault (its TTD with the lab's own detector), if it has one."""
        with contextlib.suppress(ApiCallError, KeyError, TypeError):
            body = await self.client.failures()
            for e in reversed(body["failures"]):
                if e["replica"] == replica and e.get("activated_at") and abs(e["activated_at"] - activated) < 0.5:
                    return dict(e)
        return {}

    async def _clear_all(self) -> None:
        for replica in self.settings.replica_ids:
            with contextlib.suppress(ApiCallError):
                await self.client.clear(replica, timeout_s=3)
