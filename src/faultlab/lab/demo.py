"""The guide's demo (`faultlab demo`): the demo experiment (demo.yaml beside this file) run by the experiment runner,
narrated step by step into a state file the dashboard's presentation page (/demo) reads.

The narrator follows the runner from outside: a fault it injected (its timeline), the monitor's episode for it
(detection, then recovery, as the runner itself waits for them) and each finished phase (its result, and the episode
timeline of that step, lab/timeline.py). Each step is kept as data — the fault's kind, replica and parameters, the
lab's settings that matter, the TTD and TTR measured — and said as one sentence in the reader's language by
`sentence`, so the page and the terminal say the same thing with this run's own figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, Unreachable
from faultlab.core.config import Settings
from faultlab.core.i18n import N_
from faultlab.core.said import SaidText, render
from faultlab.lab.report_model import PhaseResult
from faultlab.lab.timeline import build_timeline

DEMO_FILE = Path(__file__).with_name("demo.yaml")
STATE_FILE = "demo.json"  # in the lab folder: the dashboard serves it at /api/demo
Stage = Literal["waiting", "injected", "detected", "recovered", "done", "missed"]

# One sentence per step: the fault's clause (its kind's), then what the monitor did, each with this run's figures.
FAULT_CLAUSES = {
    "crash": N_("replica {replica} now crashes: its process exits and the supervisor starts a new one"),
    "latency": N_("replica {replica} now answers {latency_ms} ms late; the monitor's checks give up after "
                  "{timeout_ms} ms"),
    "intermittent": N_("replica {replica} now fails {percent} % of its requests; the monitor's {detector} detector "
                       "watches its failed checks"),
    "incorrect": N_("replica {replica} now serves wrong values for {product}; the voter compares it with the "
                    "majority"),
}
OTHER_FAULT = N_("replica {replica} now has a {kind} fault")
WAITING = N_("next: {phase} on replica {replica}")
DETECTED = N_("OFF after {ttd} ms ({by})")
NOT_DETECTED = N_("not detected")
RECOVERED = N_("ON again {ttr} ms after the fault ended")
NOT_RECOVERED = N_("not back ON")


class DemoStep(BaseModel):
    """One step of the demo: a phase's fault and what the monitor did about it, with this run's figures."""

    phase: str
    kind: str | None = None
    replica: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    stage: Stage = "waiting"
    injected_at: float | None = None
    ttd_ms: float | None = None
    detected_by: SaidText | None = Field(None, description="what detected it, as the monitor recorded it")
    ttr_ms: float | None = None


class DemoState(BaseModel):
    """What the presentation page shows: every step, the current one, the lab's settings the sentences name, the
    episode timeline of the step just finished and, at the end, the report."""

    started_at: float
    updated_at: float
    title: str = ""
    steps: list[DemoStep]
    current: int = Field(0, description="index of the step under way (len(steps) once finished)")
    health_timeout_ms: int
    detector: str
    finished: bool = False
    interrupted: bool = False
    timeline: dict[str, Any] | None = Field(None, description="the episode timeline of the step just finished")
    timeline_step: int | None = None
    report: str | None = Field(None, description="the run folder's name, once its report is written")


def _figure(value: float | None, lang: str) -> str:
    """A whole number of ms or percent as said on the page: no thousands separator ("1200 ms", as the guide)."""
    return "-" if value is None else str(round(float(value)))


def sentence(step: DemoStep, state: DemoState, lang: str) -> str:
    """The step in one sentence in `lang`, with this run's figures: the fault, the detection, the recovery."""
    _ = i18n.gettext_for(lang)
    if step.stage == "waiting":
        return capital(_(WAITING).format(phase=step.phase, replica=step.replica if step.replica is not None else "-"))
    params = step.params
    fields = {"replica": step.replica, "kind": step.kind, "product": params.get("product_id", "-"),
              "latency_ms": _figure(params.get("latency_ms"), lang),
              "percent": _figure(100 * float(params.get("probability", 0)), lang),
              "timeout_ms": _figure(state.health_timeout_ms, lang), "detector": state.detector}
    clauses = [_(FAULT_CLAUSES.get(step.kind or "", OTHER_FAULT)).format(**fields)]
    if step.ttd_ms is not None:
        clauses.append(_(DETECTED).format(ttd=_figure(step.ttd_ms, lang), by=render(step.detected_by, lang) if step.detected_by else _("monitor")))
    elif step.stage in ("done", "missed"):
        clauses.append(_(NOT_DETECTED))
    if step.ttr_ms is not None:
        clauses.append(_(RECOVERED).format(ttr=_figure(step.ttr_ms, lang)))
    elif step.stage in ("done", "missed") and step.ttd_ms is not None:
        clauses.append(_(NOT_RECOVERED))
    return capital("; ".join(clauses))


def capital(text: str) -> str:
    """Clauses as a sentence: a capital first letter, a full stop."""
    return text[:1].upper() + text[1:] + "."


def read_state(home: Path) -> DemoState | None:
    """The last demo's state in a lab folder (None when no demo ran there, or its file is not a demo's)."""
    try:
        return DemoState.model_validate_json((home / STATE_FILE).read_bytes())
    except (OSError, ValueError):
        return None


def described(state: DemoState, lang: str) -> dict[str, Any]:
    """The state as the page reads it (`GET /api/demo`): every step with its sentence in `lang`."""
    data = state.model_dump(mode="json")
    for step, shown in zip(state.steps, data["steps"], strict=True):
        shown["sentence"] = sentence(step, state, lang)
    data["lang"] = lang
    return data


class Narrator:
    """Follows an experiment runner and keeps the demo's state file current."""

    def __init__(self, settings: Settings, experiment: Any, title: str = "") -> None:
        self.settings = settings
        self.path = settings.home / STATE_FILE
        steps = [DemoStep(phase=p.name, kind=p.steps[0].spec.kind if p.steps else None,
                          replica=p.replicas[0] if p.replicas else None) for p in experiment.phases]
        now = time.time()
        self.state = DemoState(started_at=now, updated_at=now, title=title, steps=steps,
                               health_timeout_ms=settings.health_timeout_ms, detector=settings.detector)
        self.runner: Any = None
        self.observations: list[dict[str, Any]] = []
        self.seen = 0  # the runner's timeline entries already read
        self.waits: list[asyncio.Task[None]] = []
        self.on_change: Any = None  # called with the current step after each change (the terminal's line)
        self.write()

    def write(self) -> None:
        """The state file, replaced whole (the page never reads half of it)."""
        self.state.updated_at = time.time()
        tmp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}")
        tmp.write_text(self.state.model_dump_json())
        tmp.replace(self.path)

    def changed(self) -> None:
        self.write()
        if self.on_change is not None and self.state.current < len(self.state.steps):
            self.on_change(self.state.steps[self.state.current])

    def step(self) -> DemoStep | None:
        current = self.state.current
        return self.state.steps[current] if current < len(self.state.steps) else None

    async def follow(self, runner: Any) -> None:
        """Until cancelled: each fault the runner injects becomes the current step's, and the monitor's episode for
        it its detection and recovery."""
        self.runner = runner
        while True:
            entries = runner.timeline
            for entry in entries[self.seen:]:
                step = self.step()
                if step is not None and ("fault" in entry or "kind" in entry) and step.stage == "waiting" \
                        and entry.get("replica") == step.replica:
                    fault = entry.get("fault") or {}
                    step.params = dict(fault.get("params") or {})
                    step.injected_at = entry.get("at") or time.time()
                    step.stage = "injected"
                    self.waits.append(asyncio.create_task(self._episode(step, runner)))
                    self.changed()
            self.seen = len(entries)
            await asyncio.sleep(0.1)

    async def _episode(self, step: DemoStep, runner: Any) -> None:
        since = (step.injected_at or time.time()) - 1.0
        timeouts = runner.experiment.timeouts
        found = await runner.system.wait_episode(step.replica, since, "detected_at", timeouts.detect_s)
        if found is None or step.stage not in ("injected",):
            return
        step.ttd_ms, step.detected_by, step.stage = found.get("ttd_ms"), found.get("detected_by"), "detected"
        self.changed()
        found = await runner.system.wait_episode(step.replica, since, "recovered_at", timeouts.recover_s)
        if found is not None and step.stage == "detected":
            step.ttr_ms, step.stage = found.get("ttr_ms"), "recovered"
            self.changed()

    def phase_done(self, result: PhaseResult) -> None:
        """A phase finished: its step takes the run's own figures (the report's), its timeline is drawn, the next
        step begins."""
        index = next((i for i, s in enumerate(self.state.steps) if s.phase == result.phase), None)
        if index is None:
            return
        step = self.state.steps[index]
        step.ttd_ms, step.ttr_ms = result.ttd_ms, result.ttr_ms
        episode = result.episodes[0] if result.episodes else None
        if episode is not None:
            step.detected_by = episode.detected_by or step.detected_by
            step.params = step.params or dict((episode.fault.params if episode.fault else {}) or {})
            events = self.runner.system.recorded_events() if self.runner is not None else None
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.state.timeline = build_timeline(
                    episode.model_dump(mode="json"), self.settings, monitor_events=events,
                    observations=[o for o in self.observations if o.get("replica") == episode.replica] or None,
                    injected_at=result.injected_at)
                self.state.timeline_step = index
        step.stage = "done" if result.ttd_ms is not None and result.ttr_ms is not None else "missed"
        self.state.current = index + 1
        self.changed()

    def stop(self, interrupted: bool) -> None:
        """The run is over (finished, interrupted or aborted): no wait outlives it."""
        for task in self.waits:
            task.cancel()
        self.state.finished, self.state.interrupted = True, interrupted
        self.write()

    def report_written(self, run_dir: Path) -> None:
        self.state.report = run_dir.name
        self.write()


TRACE_LEASE_S = 30.0  # the monitor stops recording on its own this long after the last renewal (a demo killed hard)
TRACE_EVERY_S = 0.5


async def record_trace(narrator: Narrator, client: Any) -> None:
    """Until cancelled: the monitor's observations (`/trace`), for the timelines' health-check, detector and voter
    lanes. A monitor started again (the run's data reset restarts it) is asked to record again, from its own first
    number; the recording is closed when cancelled, and lapses on its own if this process dies."""
    monitor = client.url("monitor", "/trace")
    after, renewed, recording = 0, 0.0, False
    try:
        while True:
            try:
                if not recording or time.monotonic() - renewed > TRACE_LEASE_S / 3:
                    opened = await client.request("POST", monitor, {"lease_s": TRACE_LEASE_S}, auth=True)
                    renewed, recording = time.monotonic(), True
                    if int(opened.get("next") or 1) <= after:  # another monitor process: its numbers start again
                        after = 0
                answer = await client.request("GET", f"{monitor}?since={after}", auth=True)
                recording = bool(answer.get("recording"))
                narrator.observations.extend(answer.get("observations") or [])
                after = int(answer.get("next") or after)
            except (ApiCallError, Unreachable):
                recording = False  # restarting, or not answering yet: ask again
            await asyncio.sleep(TRACE_EVERY_S)
    finally:
        with contextlib.suppress(ApiCallError, Unreachable, RuntimeError):
            await asyncio.shield(client.request("DELETE", monitor, auth=True))
