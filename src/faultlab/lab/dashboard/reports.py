"""Past runs from the runs folder, read safely: experiments (`runs/<UTC time>/report.json`, `report.html`,
`runs/latest`) and detector studies (`runs/<UTC time>-detectors/study.json`, `study.html`), each with its `kind`."""

from __future__ import annotations

import builtins  # `list` below is also a method of RunsFolder
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faultlab.core.web import ApiError
from faultlab.lab.report import NotAReport, report_of
from faultlab.lab.report_model import Report

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$")
MIN_COMPARED, MAX_COMPARED = 2, 8

FILES = {"experiment": ("report.json", "report.html"), "study": ("study.json", "study.html")}


def run_kind(path: Path) -> str:
    """"study" for a detector study's folder, "experiment" otherwise."""
    return "study" if any((path / f).is_file() for f in FILES["study"]) else "experiment"


class RunsFolder:
    """Lists run folders newest first and reads their reports (an experiment's into the `Report` model), caching each
    file by modification time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[float, Report | dict[str, Any] | None, str | None]] = {}

    def latest_name(self) -> str | None:
        link = self.root / "latest"
        if not link.is_symlink() and not link.is_dir():
            return None
        try:
            target = link.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return target.name if target.parent == self.root.resolve() else None

    def run_dir(self, name: str) -> Path:
        """The folder of one run by name (`latest` allowed); never a path outside the runs folder."""
        if name == "latest":
            resolved = self.latest_name()
            if resolved is None:
                raise ApiError(404, f"no runs/latest link in {self.root}")
            name = resolved
        if not RUN_NAME.match(name) or name == "latest":
            raise ApiError(400, "a run name is letters, digits and . _ : + - only")
        path = self.root / name
        if not path.is_dir() or path.is_symlink():
            raise ApiError(404, f"no run named {name!r}")
        return path

    def _read(self, path: Path) -> tuple[Report | dict[str, Any] | None, str | None]:
        """(an experiment's report.json as the model, a study's study.json as a dict — or None; the reason it could
        not be read, or None)."""
        kind = run_kind(path)
        name = FILES[kind][0]
        file = path / name
        try:
            mtime = file.stat().st_mtime
        except OSError:
            return None, f"no {name}"
        cached = self._cache.get(file)
        if cached is not None and cached[0] == mtime:
            return cached[1], cached[2]
        found: Report | dict[str, Any] | None = None
        problem: str | None = None
        try:
            data = json.loads(file.read_text())
            if not isinstance(data, dict):
                problem = f"{name} is not an object"
            else:
                found = report_of(data, file) if kind == "experiment" else data
        except NotAReport as exc:
            problem = exc.text(file=name)  # the server's paths are not the page's business
        except (OSError, ValueError) as exc:
            problem = f"unreadable {name}: {type(exc).__name__}"
        self._cache[file] = (mtime, found, problem)
        return found, problem

    def report(self, path: Path) -> tuple[Report | None, str | None]:
        """(an experiment's report, or None; the reason it could not be read, or None)."""
        found, problem = self._read(path)
        return (found, problem) if isinstance(found, Report) else (None, problem)

    def study(self, path: Path) -> tuple[dict[str, Any] | None, str | None]:
        """(a detector study's study.json, or None; the reason it could not be read, or None)."""
        found, problem = self._read(path)
        return (found, problem) if isinstance(found, dict) else (None, problem)

    def summary(self, path: Path, latest: str | None) -> dict[str, Any]:
        if run_kind(path) == "study":
            return self.study_summary(path, latest)
        report, problem = self.report(path)
        info = report.experiment_info if report is not None else None
        return {
            "name": path.name,
            "kind": "experiment",
            "html": "report.html",
            "latest": path.name == latest,
            "has_report_json": (path / "report.json").is_file(),
            "has_report_html": (path / "report.html").is_file(),
            "problem": problem,
            "start_time": info.start_time if info else None,
            "start_ts": info.start_ts if info else None,
            "duration_s": info.total_duration_seconds if info else None,
            "phases": info.phases if info else [],
            "repeat": info.repeat if info else None,
            "valid": report.verdict.valid if report else None,
            "summary": report.summary.model_dump(mode="json", exclude_unset=True) if report else None,
            "modified_at": path.stat().st_mtime,
        }

    def study_summary(self, path: Path, latest: str | None) -> dict[str, Any]:
        """A detector study: when, which fault kinds, the lab's setting and the recommended one."""
        found, problem = self.study(path)
        study: Any = found or {}
        started, ended = study.get("started_at"), study.get("ended_at")
        current_result: Any = study.get("current_result") if isinstance(study.get("current_result"), dict) else {}
        current: Any = current_result.get("setting") if isinstance(current_result.get("setting"), dict) else {}
        recommended: Any = study.get("recommended") if isinstance(study.get("recommended"), dict) else {}
        grid: Any = study.get("grid") if isinstance(study.get("grid"), dict) else {}
        on_front = study.get("current_on_front") if isinstance(study.get("current_on_front"), dict) else {}
        return {
            "name": path.name, "kind": "study", "html": "study.html", "latest": path.name == latest,
            "has_report_json": (path / "study.json").is_file(), "has_report_html": (path / "study.html").is_file(),
            "problem": problem,
            "start_time": datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds")
            if isinstance(started, (int, float)) else None,
            "start_ts": started if isinstance(started, (int, float)) else None,
            "duration_s": round(ended - started, 3) if isinstance(started, (int, float))
            and isinstance(ended, (int, float)) else None,
            "phases": grid.get("kinds") or [], "repeat": (study.get("config") or {}).get("reps"), "valid": None,
            "summary": None,
            "study": {"settings": grid.get("settings"), "budget_per_hour": study.get("budget_per_hour"),
                      "focus": study.get("focus"), "current": current.get("label") or current.get("detector"),
                      "recommended": recommended.get("label"),
                      "current_on_front": [k for k, v in on_front.items() if v]},  # in the study's order
            "modified_at": path.stat().st_mtime,
        }

    def list(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        latest = self.latest_name()
        runs = [self.summary(p, latest) for p in self.root.iterdir()
                if p.is_dir() and not p.is_symlink() and RUN_NAME.match(p.name)
                and any((p / f).is_file() for files in FILES.values() for f in files)]
        return sorted(runs, key=lambda r: (r["start_ts"] or r["modified_at"]), reverse=True)

    def detail(self, name: str) -> dict[str, Any]:
        """One run: its summary plus the tables of report.json (phase results and statistics)."""
        path = self.run_dir(name)
        if run_kind(path) == "study":
            study, _problem = self.study(path)
            return {**self.summary(path, self.latest_name()), "results": [], "verdict": None, "episodes": [],
                    "front": study_front(study or {})}
        report, _problem = self.report(path)
        rows = []
        for r in report.results if report else []:
            load = r.load_test_result
            rows.append({"phase": r.phase, "repetition": r.repetition, "ttd_ms": r.ttd_ms, "ttr_ms": r.ttr_ms,
                         "rps": load.rps, "p50_ms": load.p50_latency_ms, "p95_ms": load.p95_latency_ms,
                         "p99_ms": load.p99_latency_ms, "success_rate": load.success_rate, "passed": r.passed,
                         "missed": r.missed})
        return {**self.summary(path, self.latest_name()), "results": rows,
                "verdict": report.verdict.model_dump(mode="json", exclude_unset=True) if report else None,
                "episodes": [e.model_dump(mode="json", exclude_unset=True) for e in report.episodes or []]
                if report else []}

    def reports(self, names: builtins.list[str]) -> builtins.list[tuple[str, Report]]:
        """The reports of 2 to MAX_COMPARED runs by name (`latest` allowed), for a comparison; a 4xx otherwise."""
        if not MIN_COMPARED <= len(names) <= MAX_COMPARED:
            raise ApiError(400, f"runs must name {MIN_COMPARED} to {MAX_COMPARED} runs, comma-separated")
        found = []
        for name in names:
            path = self.run_dir(name)
            report, problem = self.report(path)
            if report is None:
                raise ApiError(404, f"run {path.name!r} has no readable report.json ({problem})")
            found.append((path.name, report))
        return found

    def file(self, name: str, filename: str) -> Path:
        if filename not in FILES["experiment"] + FILES["study"]:
            raise ApiError(404, "only report.html and report.json (study.html and study.json for a study) are served")
        folder = self.run_dir(name)
        if filename not in FILES[run_kind(folder)]:
            raise ApiError(404, f"run {name!r} is a {run_kind(folder)}: it has {' and '.join(FILES[run_kind(folder)])}")
        path = folder / filename
        if not path.is_file():
            raise ApiError(404, f"run {name!r} has no {filename}")
        return path


def study_front(study: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings on the front of the study's focus fault kind, as study.html orders them (false OFFs per hour on
    the fault-free stretches, then TTD p95): label, whether it is the lab's or the recommended setting, TTD
    median/p95, faults not detected, flaps, false OFFs per hour (fault-free, noisy, quiet)."""
    focus = study.get("focus")
    recommended = (study.get("recommended") or {}).get("label") if isinstance(study.get("recommended"), dict) else None
    rows = []
    for r in study.get("results") or []:
        if not isinstance(r, dict) or not (r.get("on_front") or {}).get(focus):
            continue
        ttd = (r.get("ttd") or {}).get(focus) or {}
        mistakes = r.get("mistakes") or {}
        label = (r.get("setting") or {}).get("label")
        rows.append({"setting": label, "current": bool(r.get("current")),
                     "recommended": label is not None and label == recommended, "kind": focus,
                     "ttd_median_ms": ttd.get("median_ms"), "ttd_p95_ms": ttd.get("p95_ms"),
                     "missed": ttd.get("missed"), "flaps": ttd.get("flaps"),
                     "false_off_per_hour": (mistakes.get("fault-free") or {}).get("per_hour"),
                     "false_off_per_hour_noisy": (mistakes.get("noisy") or {}).get("per_hour"),
                     "false_off_per_hour_quiet": (mistakes.get("quiet") or {}).get("per_hour")})
    return sorted(rows, key=lambda row: (row["false_off_per_hour"] or 0, row["ttd_p95_ms"] or 0))
