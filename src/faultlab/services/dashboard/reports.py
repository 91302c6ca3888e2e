"""Past runs from the runs folder (`runs/<UTC time>/report.json`, `report.html`, `runs/latest`), read safely."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from faultlab.web import ApiError

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$")
MIN_COMPARED, MAX_COMPARED = 2, 8


class RunsFolder:
    """Lists run folders newest first and reads their reports, caching each report.json by modification time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[float, dict[str, Any] | None, str | None]] = {}

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

    def report(self, path: Path) -> tuple[dict[str, Any] | None, str | None]:
        """(report.json as a dict, or None; the reason it could not be read, or None)."""
        file = path / "report.json"
        try:
            mtime = file.stat().st_mtime
        except OSError:
            return None, "no report.json"
        cached = self._cache.get(file)
        if cached is not None and cached[0] == mtime:
            return cached[1], cached[2]
        try:
            data = json.loads(file.read_text())
            report, problem = (data, None) if isinstance(data, dict) else (None, "report.json is not an object")
        except (OSError, ValueError) as exc:
            report, problem = None, f"unreadable report.json: {type(exc).__name__}"
        self._cache[file] = (mtime, report, problem)
        return report, problem

    def summary(self, path: Path, latest: str | None) -> dict[str, Any]:
        report, problem = self.report(path)
        info = (report or {}).get("experiment_info") or {}
        verdict = (report or {}).get("verdict") or {}
        results = (report or {}).get("results") or []
        return {
            "name": path.name,
            "latest": path.name == latest,
            "has_report_json": (path / "report.json").is_file(),
            "has_report_html": (path / "report.html").is_file(),
            "problem": problem,
            "start_time": info.get("start_time"),
            "start_ts": info.get("start_ts"),
            "duration_s": info.get("total_duration_seconds"),
            "phases": info.get("phases") or sorted({r.get("phase") for r in results if isinstance(r, dict)}),
            "repeat": info.get("repeat"),
            "valid": verdict.get("valid"),
            "summary": (report or {}).get("summary"),
            "modified_at": path.stat().st_mtime,
        }

    def list(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        latest = self.latest_name()
        runs = [self.summary(p, latest) for p in self.root.iterdir()
                if p.is_dir() and not p.is_symlink() and RUN_NAME.match(p.name)
                and ((p / "report.json").is_file() or (p / "report.html").is_file())]
        return sorted(runs, key=lambda r: (r["start_ts"] or r["modified_at"]), reverse=True)

    def detail(self, name: str) -> dict[str, Any]:
        """One run: its summary plus the tables of report.json (phase results and statistics)."""
        path = self.run_dir(name)
        report, _problem = self.report(path)
        rows = []
        for r in (report or {}).get("results") or []:
            if not isinstance(r, dict):
                continue
            load = r.get("load_test_result") or {}
            rows.append({"phase": r.get("phase"), "repetition": r.get("repetition"), "ttd_ms": r.get("ttd_ms"),
                         "ttr_ms": r.get("ttr_ms"), "rps": load.get("rps"), "p50_ms": load.get("p50_latency_ms"),
                         "p95_ms": load.get("p95_latency_ms"), "p99_ms": load.get("p99_latency_ms"),
                         "success_rate": load.get("success_rate"), "passed": r.get("passed"),
                         "missed": r.get("missed") or []})
        return {**self.summary(path, self.latest_name()), "results": rows,
                "verdict": (report or {}).get("verdict"), "episodes": (report or {}).get("episodes") or []}

    def reports(self, names: list[str]) -> list[tuple[str, dict[str, Any]]]:
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
        if filename not in ("report.html", "report.json"):
            raise ApiError(404, "only report.html and report.json are served")
        path = self.run_dir(name) / filename
        if not path.is_file():
            raise ApiError(404, f"run {name!r} has no {filename}")
        return path
