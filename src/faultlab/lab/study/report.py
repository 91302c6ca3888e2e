"""The study's run folder: `study.json` (the recording's metadata, every setting's figures, the fronts, the pick),
`study.html`, and `traces/` (the recorded observations, one file per segment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faultlab.core.i18n import _
from faultlab.detectors import make_detector
from faultlab.lab.study.grid import run_grid
from faultlab.lab.study.pareto import DEFAULT_FLAP_BUDGET, recommend
from faultlab.lab.study.replay import Setting
from faultlab.lab.study.traces import read_trace

STUDY_FILE = "study.json"
HTML_FILE = "study.html"
SCHEMA_VERSION = 1
DEFAULT_BUDGET = 1.0
DEFAULT_FOCUS = "intermittent"


def load_traces(run_dir: Path, meta: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {seg["name"]: read_trace(run_dir / seg["file"]) for seg in meta["segments"]}


def analyse(run_dir: Path, meta: dict[str, Any], budget_per_hour: float = DEFAULT_BUDGET,
            focus: str = DEFAULT_FOCUS, progress: Any = None,
            flap_budget: float = DEFAULT_FLAP_BUDGET) -> dict[str, Any]:
    """Replay the folder's traces through the grid and add the results, the fronts and the pick to `meta`."""
    traces = load_traces(run_dir, meta)
    detector = meta["current"]["detector"]
    current = Setting.of(detector, make_detector(detector, meta["current"]["params"]).params())  # every parameter
    grid = run_grid(meta, traces, current, progress)
    kinds = grid["kinds"]
    focus = focus if focus in kinds else (kinds[0] if kinds else focus)
    pick = recommend(grid["results"], budget_per_hour, focus, kinds, flap_budget)
    current_result = next(r for r in grid["results"] if r["current"])
    return {
        "fidelity": fidelity(meta, current_result),
        "schema_version": SCHEMA_VERSION, "kind": "study", "study": "detectors", **meta,
        "grid": {k: v for k, v in grid.items() if k != "results"},
        "results": grid["results"],
        "budget_per_hour": budget_per_hour, "flap_budget": flap_budget, "focus": focus,
        "recommended": pick["setting"] if pick else None,
        "current_on_front": current_result["on_front"],
        "current_result": current_result,
        "recommended_result": pick,
    }


def fidelity(meta: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The replay of the lab's own setting against what the live monitor measured on the same faults: the replay
    runs the monitor's tracker on the observations it received, so the two TTDs should agree."""
    diffs = []
    seen: dict[str, int] = {}
    for fault in meta.get("faults", []):
        i = seen.get(fault["kind"], 0)
        seen[fault["kind"]] = i + 1
        replayed = current["ttd"].get(fault["kind"], {}).get("values_ms", [])
        live = fault.get("monitor_ttd_ms")
        if i < len(replayed) and replayed[i] is not None and live is not None:
            diffs.append(abs(replayed[i] - live))
    return {"compared": len(diffs), "within_1_ms": sum(d <= 1.0 for d in diffs),
            "max_difference_ms": round(max(diffs), 3) if diffs else None,
            "faults": len(meta.get("faults", []))}


def write_study(run_dir: Path, study: dict[str, Any]) -> None:
    from faultlab.lab.study.html import render_html

    study["run_dir"] = str(run_dir.resolve())
    (run_dir / STUDY_FILE).write_text(json.dumps(study, indent=1) + "\n")
    (run_dir / HTML_FILE).write_text(render_html(study))


def load_study(path: Path) -> tuple[dict[str, Any], Path]:
    """A study.json from its folder or the file itself; (study, folder)."""
    path = path.resolve()
    if path.is_dir():
        path = path / STUDY_FILE
    if not path.is_file():
        raise FileNotFoundError(_("no {file} at {path}").format(file=STUDY_FILE, path=path))
    return json.loads(path.read_text()), path.parent


def recording_only(study: dict[str, Any]) -> dict[str, Any]:
    """What the recording wrote (a replay starts again from it: the results are recomputed)."""
    drop = {"grid", "results", "budget_per_hour", "flap_budget", "focus", "recommended", "current_on_front",
            "current_result", "recommended_result", "schema_version", "kind", "study", "run_dir"}
    return {k: v for k, v in study.items() if k not in drop}


