"""Every detector × a grid of its parameters, replayed over the study's segments; figures and fronts per setting."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from faultlab.core.config import Settings
from faultlab.detectors import DETECTORS, make_detector, settings_params
from faultlab.lab.study.pareto import pareto_front
from faultlab.lab.study.replay import (
    FAULT_FREE,
    FaultVerdict,
    Mistakes,
    Setting,
    count_mistakes,
    judge_fault,
    replay_segment,
    ttd_summary,
)

PROBE_INTERVALS_MS = (400, 1000)  # tried when slower than the recorded interval (a trace cannot show faster probing)


def grid_settings(recovery_threshold: int, extra: list[Setting] | None = None, failure_threshold: int = 3,
                  recorded_interval_ms: int = 200) -> list[Setting]:
    """Each detector's grid (the `grid` of each parameter; its default where none), `successes` fixed to the lab's
    recovery threshold (recovery is not what the study compares), invalid combinations left out; each detector at
    the lab's defaults with slower probe intervals; then `extra`."""
    out: list[Setting] = []
    for name, cls in DETECTORS.items():
        axes = {k: (p.grid or (p.default,)) for k, p in cls.PARAMS.items()}
        if "successes" in axes:
            axes["successes"] = (recovery_threshold,)
        for combo in itertools.product(*axes.values()):
            params = dict(zip(axes, combo, strict=True))
            try:
                make_detector(name, params)
            except ValueError:
                continue
            out.append(Setting.of(name, params))
    for name in DETECTORS:  # slower probing, each detector at its lab defaults
        params = make_detector(name, settings_params(name, failure_threshold, recovery_threshold)).params()
        out += [Setting.of(name, params, ms) for ms in PROBE_INTERVALS_MS if ms > recorded_interval_ms]
    for setting in extra or []:
        if setting not in out:
            out.append(setting)
    return out


def replay_settings(meta: dict[str, Any]) -> Settings:
    """The lab settings the tracker needs in a replay (its recovery threshold), built without reading the
    environment: a replay depends on the study's files only."""
    lab = meta.get("lab") or {}
    return Settings.model_construct(recovery_threshold=int(lab.get("recovery_threshold", 5)),
                                    failure_threshold=int(lab.get("failure_threshold", 3)),
                                    health_interval_ms=int(lab.get("health_interval_ms", 200)),
                                    replicas=int(lab.get("replicas", 3)))


def judge_setting(meta: dict[str, Any], traces: dict[str, list[dict[str, Any]]], setting: Setting) -> dict[str, Any]:
    """One setting replayed over every segment: TTD per fault kind, mistakes per fault-free stretch."""
    lab = replay_settings(meta)
    replicas = list(range(1, lab.replicas + 1))
    verdicts: dict[str, list[FaultVerdict]] = defaultdict(list)
    mistakes: dict[str, Any] = {}
    fault_free: Mistakes | None = None
    for seg in meta["segments"]:
        transitions = replay_segment(traces[seg["name"]], setting, lab, replicas)
        if seg["kind"] in ("quiet", "noisy"):
            counted = count_mistakes(transitions, seg["measure_from"], seg["end"])
            mistakes[seg["kind"]] = counted.describe()
            fault_free = counted if fault_free is None else fault_free.plus(counted)
        for fault in meta.get("faults", []):
            if fault["segment"] == seg["name"]:
                verdicts[fault["kind"]].append(judge_fault(transitions[fault["replica"]], fault))
    if fault_free is not None:
        mistakes[FAULT_FREE] = fault_free.describe()
    return {"setting": setting.describe(), "ttd": {k: ttd_summary(v) for k, v in verdicts.items()},
            "mistakes": mistakes}


_WORKER: dict[str, Any] = {}


def _worker_judge(setting: Setting) -> dict[str, Any]:
    return judge_setting(_WORKER["meta"], _WORKER["traces"], setting)


def evaluate(meta: dict[str, Any], traces: dict[str, list[dict[str, Any]]], settings_list: list[Setting],
             progress: Callable[[int, int], None] | None = None, jobs: int = 1) -> list[dict[str, Any]]:
    """Every setting judged (in `jobs` forked processes sharing the traces when more than one), in grid order."""
    results: list[dict[str, Any]] = []
    if jobs > 1 and len(settings_list) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORKER.update(meta=meta, traces=traces)  # inherited by the forked workers, never pickled
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                for result in pool.map(_worker_judge, settings_list, chunksize=4):
                    results.append(result)
                    if progress is not None:
                        progress(len(results), len(settings_list))
        finally:
            _WORKER.clear()
        return results
    for setting in settings_list:
        results.append(judge_setting(meta, traces, setting))
        if progress is not None:
            progress(len(results), len(settings_list))
    return results


def fronts(results: list[dict[str, Any]], kinds: list[str], stretch: str = FAULT_FREE) -> dict[str, list[str]]:
    """Per fault kind, the labels of the settings on the front of (false OFFs per hour on `stretch` — by default every
    fault-free stretch together — and TTD p95)."""
    out = {}
    for kind in kinds:
        front = pareto_front(results, lambda r, k=kind: (  # type: ignore[misc]
                                                          r["mistakes"].get(stretch, {}).get("per_hour"),
                                                          r["ttd"].get(k, {}).get("p95_ms")))
        out[kind] = [r["setting"]["label"] for r in front]
    return out


def run_grid(meta: dict[str, Any], traces: dict[str, list[dict[str, Any]]], current: Setting,
             progress: Callable[[int, int], None] | None = None, jobs: int | None = None) -> dict[str, Any]:
    """The whole grid: results per setting, fronts per fault kind, and where the lab's current setting lies
    (`jobs` processes, default one per core)."""
    lab = replay_settings(meta)
    settings_list = grid_settings(lab.recovery_threshold, [current], lab.failure_threshold, lab.health_interval_ms)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    started = time.perf_counter()
    results = evaluate(meta, traces, settings_list, progress, jobs)
    elapsed = time.perf_counter() - started
    kinds = list(dict.fromkeys(f["kind"] for f in meta.get("faults", [])))
    by_kind = fronts(results, kinds)
    for r in results:
        r["on_front"] = {k: r["setting"]["label"] in labels for k, labels in by_kind.items()}
        r["current"] = r["setting"]["label"] == current.label
    observations = sum(len(v) for v in traces.values())
    return {"settings": len(settings_list), "observations": observations, "replay_s": round(elapsed, 2), "jobs": jobs,
            "kinds": kinds, "results": results, "fronts": by_kind, "current": current.describe()}
