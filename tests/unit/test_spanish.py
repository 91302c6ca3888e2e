"""What a Spanish-speaking student reads is Spanish, with one number format: every page (report.html from recorded
and literal runs, compare.html, study.html, the dashboard's pages as rendered) and every command's output (the help
of every command, `faultlab report`, `faultlab compare`, `faultlab status` and `faultlab failures` on literal answers,
`faultlab experiment --check`, the console summary of a run) holds no English word, no word the glossary replaces and
no number written the English way. The pages the dashboard's scripts fill are read in Chromium by
tests/e2e/test_i18n_pages.py with the same checks."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import pytest
from rich.console import Console

from faultlab.core import i18n
from faultlab.core.said import render, say
from faultlab.lab.report import build_report, load_report, write_run
from faultlab.lab.report_html import render_html
from faultlab.lab.report_model import Report
from tests.unit.test_report import RECORDED, experiment_data, full_results
from tests.untranslated import leftovers, mixed_numbers, not_the_guides, visible_texts

ES = {"class": "lang", "data-lang": "es"}  # report.html's, compare.html's and study.html's Spanish view
REFUSED = say("detector_off", evidence=say("evidence_refused"), detector="error-rate")
BY_VOTER = say("detected_by", source=say("source_voter"), reason=say("wrong_values"))
BY_MONITOR = say("detected_by", source=say("source_monitor"), reason=REFUSED)


def problems(texts: list[str], lang: str = "es") -> list[str]:
    """Everything wrong with texts a Spanish (or English) reader sees: words of the other language, words the
    glossary replaces, numbers in the other language's format."""
    found = [f"other language: {t!r}" for t in leftovers(texts, lang)]
    if lang == "es":
        found += [f"not the guide's word: {t!r}" for t in not_the_guides(texts)]
    return found + [f"number: {n}" for n in mixed_numbers(texts, lang)]


def prose(output: str) -> list[str]:
    """A command's output as lines to read, without what is data there: paths, `backquoted` commands, URLs."""
    lines = []
    for line in output.splitlines():
        # commands, paths, URLs, an option with its value ([--probability 0.3], --max-ttd-ms), a metavar (TIMEOUT)
        read = re.sub(r"`[^`]*`|\S*/\S*|https?://\S+|\[-[^\]]*\]|(?<!\w)--?[\w-]+|\b[A-Z][A-Z_]+\b", " ", line)
        if read.strip():
            lines.append(read)
    return lines


@contextmanager
def spanish() -> Iterator[None]:
    previous = i18n.active()
    i18n.activate("es")
    try:
        yield
    finally:
        i18n.activate(previous)


def rich_report() -> Report:
    """A literal run with every kind of recorded sentence: misses, a repetition not detected, a broken injection, notes,
    what detected each fault, an abort condition, the steady state not restored, failed checks with samples; and
    figures with decimals and thousands (1.365 requests, averages like 116,36)."""
    results = full_results(3)
    crash2 = results[7]
    crash2.update(ttd_ms=None, passed=False, missed=[say("not_detected")],
                  notes=[say("not_steady_before", problems=[say("replica_not_on", replica=1, status="OFF",
                                                                reason=say("process_exited"))])])
    results[3].update(missed=[say("ttd_over", ttd_ms=2167, limit_ms=2000)], passed=False)
    results[17].update(passed=False, missed=[say("phase_error", error=say("injection_failed", error="HTTP 502"))])
    for r in results:
        for e in r["episodes"]:
            e["detected_by"] = BY_VOTER if r["phase"] == "incorrect" else BY_MONITOR
        r["detected_by"] = [e["detected_by"] for e in r["episodes"]] or None
        r["load_test_result"].update(avg_latency_ms=116.36, p99_latency_ms=1844.25, rps=49.83, requests=1365)
    data = experiment_data(results, data_valid=False)
    data["stopped_by"] = say("abort_over", metric="p95_latency_ms", limit=1500, unit="ms", seconds=3)
    data["steady_state_after"] = {"problems": [], "hypothesis": {"ok": False, "seconds": 30.5, "probes": [
        {"probe": "replicas_on", "ok": False, "on": 2, "needed": 3, "detail": say("probe_problems", problems=[
            say("replica_not_on", replica=2, status="OFF", reason=REFUSED)])},
        {"probe": "voted_reads", "ok": True, "success_rate": 100.0, "p95_ms": 12.5,
         "detail": say("voted_reads_answered", ok=20, count=20, p95_ms=12.5)}]}}
    data["data_check"] = {"valid": False, "accepted_orders": 1365, "events_in_log": 2731, "checks": {
        "converged": {"valid": False, "stored_equal_model": {"1": True, "2": False}, "served_equal_model": {"1": True},
                      "stock_conserved": False, "unconserved": [say("total_wrong", replica=2, product="PROD-001",
                                                                    total=1995, expected=2000)]},
        "order_statuses": {"valid": False, "orders": 1365, "by_status": {"CONFIRMED": 1364, "PENDING": 1},
                           "left_undecided": 1, "left_undecided_sample": [say(
                               "order_undecided_model", order="o-1", status="PENDING", expected="CONFIRMED")]},
        "log_applied": {"valid": "unknown", "log_end": 2731, "positions": {"1": 2731, "2": 2700},
                        "why": say("log_not_reached", seconds=60)},
        "read_history": {"valid": False, "reads": 12345, "answered_200": 12000, "violations": 1, "wrong_values": 0,
                         "unknown_positions": 1, "older_than_acknowledged": 0, "unknown_positions_sample": [
                             {"client": "c1", "product_id": "PROD-001", "position": 99999, "why": say(
                                 "no_model_version")}]},
        "ambiguous_writes": {"valid": True, "ambiguous": 1500, "stored_once": 1000, "not_stored": 500,
                             "stored_more_than_once": 0}}}
    data["load_total"] = {"rps": 49.83, "avg_latency_ms": 116.36, "p95_latency_ms": 1844.25, "p99_latency_ms": 2100.5,
                          "success_rate": 99.27, "requests": 1365, "successful": 1355}
    data["voting_before"] = {"total_votes": 100, "quorum_reached": 100, "quorum_not_reached": 0, "quorum_rate": 100.0}
    data["voting_after"] = {"total_votes": 1456, "quorum_reached": 1400, "quorum_not_reached": 56,
                            "quorum_rate": 96.15, "latency_ms": {"p50": 2.25, "p99": 15.75}}
    data["failures"] = [e for r in results for e in r["episodes"]]
    return build_report(data, {"replicas": 3, "orders_port": 5006, "health_interval_ms": 200}, "rich")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The rich literal run and a passing one, written (report.json, report.html) as `faultlab experiment` does."""
    root = tmp_path_factory.mktemp("runs")
    first = write_run(rich_report(), [], root / "a", lang="es")
    data = experiment_data(full_results(3))
    data["started_at"] += 3600
    data["ended_at"] += 3600
    second = write_run(build_report(data, {"replicas": 3}, "plain"), [], root / "b", lang="es")
    return first, second


@pytest.mark.parametrize("source", ["rich", *[p.name for p in RECORDED]])
def test_report_html_in_spanish(source: str) -> None:
    """report.html's Spanish view — a literal run saying every kind of sentence, and each recorded run — has no English
    word, no word the glossary replaces and every number in the Spanish format (raw fields included)."""
    report = rich_report() if source == "rich" else load_report(next(p for p in RECORDED if p.name == source))
    page = render_html(report, "es")
    texts = visible_texts(page, ES)
    assert len(texts) > 200
    assert not problems(texts), problems(texts)[:12]
    if source == "rich":
        joined = " ".join(texts)
        for said in ("TTD 2.167 ms > 2.000 ms", "repetición 2: fallo no detectado",
                     "detenido por una condición de aborto: p95_latency_ms por encima de 1.500 ms durante 3 s",
                     "votador: valores erróneos", "monitor: conexión rechazada (detector error-rate)",
                     "réplica 2, PROD-001: disponible + reservado = 1.995, se esperaba 2.000",
                     "las réplicas no llegaron al final del log en 60 s", "116,4", "1.844,2"):
            assert said in joined, said


def test_report_html_in_english_has_no_spanish_and_english_numbers() -> None:
    """The English view of the same page: no Spanish word, every number in the English format."""
    texts = visible_texts(render_html(rich_report(), "en"), {"class": "lang", "data-lang": "en"})
    assert not problems(texts, "en"), problems(texts, "en")[:12]
    assert "voter: wrong values" in " ".join(texts) and "1,844.2" in " ".join(texts)


def test_compare_and_study_pages_in_spanish(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """compare.html of two runs and study.html of a literal study, in Spanish, read as report.html is."""
    from faultlab.lab.compare import compare, load_runs
    from faultlab.lab.compare_html import render_compare
    from faultlab.lab.study.html import render_html as render_study
    from faultlab.lab.study.report import load_study
    from tests.unit.test_study_page import write_study_folder

    texts = visible_texts(render_compare(compare(load_runs(list(runs))), "es"), ES)
    assert len(texts) > 40 and not problems(texts), problems(texts)[:12]
    study, _folder = load_study(write_study_folder(tmp_path))
    texts = visible_texts(render_study(study, "es"), ES)
    assert len(texts) > 100 and not problems(texts), problems(texts)[:12]


def test_dashboard_pages_as_rendered_in_spanish() -> None:
    """The dashboard's pages as the server renders them (their scripts fill the rest: tests/e2e/test_i18n_pages.py)."""
    from faultlab.lab.dashboard import frontend

    for path, html in frontend.render_pages()["es"].items():
        texts = visible_texts(html)
        assert not problems(texts), (path, problems(texts)[:12])


def cli_help_texts(lang: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The help of the CLI and of every subcommand, argparse's own words included (bound as `faultlab` binds them)."""
    import gettext

    from tests.unit.test_i18n import cli_help

    monkeypatch.setenv("LANGUAGE", lang)
    domain = gettext.textdomain()
    gettext.bindtextdomain(i18n.DOMAIN, str(i18n.LOCALE_DIR))
    gettext.textdomain(i18n.DOMAIN)
    try:
        return [line for line in cli_help(lang).splitlines() if line.strip()]
    finally:
        gettext.textdomain(domain)


def test_every_help_text_is_spanish_and_every_option_has_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--help` of every command and subcommand in Spanish: no English word, the guide's words, Spanish numbers; and
    every option and argument of every command says what it is for."""
    from faultlab.cli import _subcommands, build_parser

    lines = cli_help_texts("es", monkeypatch)
    assert any(line.startswith("uso: faultlab") for line in lines) and any("mostrar esta ayuda" in line for line in lines)
    assert not problems(prose("\n".join(lines))), problems(prose("\n".join(lines)))[:12]
    silent = []
    for command in [build_parser(), *_subcommands(build_parser())]:
        for action in command._actions:
            if not action.help and action.dest != "help" and not isinstance(action, argparse._SubParsersAction):
                silent.append(f"{command.prog} {'/'.join(action.option_strings) or action.dest}")
    assert not silent, silent


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("FAULTLAB_", "LC_", "LANG"))}
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True, text=True, timeout=120,
                          env={**env, "FAULTLAB_LANG": "es", "FAULTLAB_HOME": str(home), "COLUMNS": "200"},
                          check=False)


def test_report_and_compare_commands_in_spanish(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """`faultlab report` (the summary and the guide's answers) and `faultlab compare` print Spanish only."""
    report = run_cli("report", str(runs[0]), home=tmp_path)
    assert report.returncode == 0, report.stderr
    lines = prose(report.stdout)
    assert "Sobre las 1.365 solicitudes" in report.stdout and "repetición 2: fallo no detectado" in report.stdout
    assert not problems(lines), problems(lines)[:12]
    compared = run_cli("compare", str(runs[0]), str(runs[1]), home=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert not problems(prose(compared.stdout)), problems(prose(compared.stdout))[:12]
    missing = run_cli("report", str(tmp_path / "nowhere"), home=tmp_path)
    assert missing.returncode == 2 and "no hay report.json" in missing.stdout, missing.stdout


EXPERIMENTS = {
    "bad.yaml": "phases:\n  - name: crash\n    fault: {kind: crash, replicas: [4]}\n  - name: crash\n",
    "empty.yaml": "",
    "list.yaml": "- a\n- b\n",
    "good.yaml": "repeat: 2\nphases:\n  - name: baseline\n  - name: crash\n    fault: {kind: crash, replicas: [1]}\n",
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_check_in_spanish(name: str, tmp_path: Path) -> None:
    """`faultlab experiment --check` says what is wrong with a file (or that it is valid) in Spanish."""
    path = tmp_path / name
    path.write_text(EXPERIMENTS[name])
    out = run_cli("experiment", "--check", "--file", str(path), home=tmp_path / "lab")
    assert out.returncode == (0 if name == "good.yaml" else 2), out.stdout + out.stderr
    lines = prose(out.stdout)
    assert not problems(lines), problems(lines)[:12]
    assert "NoneType" not in out.stdout and "Traceback" not in out.stderr


MONITOR = {"instances": [
    {"replica": 1, "status": "ON", "since": 1.8e9, "last_check": 1.8e9 + 1, "reason": say("healthy"),
     "health": {"applied_seq": 12345, "faults": []}},
    {"replica": 2, "status": "OFF", "since": 1.8e9, "last_check": 1.8e9 + 1, "reason": REFUSED, "behind_ms": 1834.5,
     "health": {"applied_seq": 12001, "faults": ["latency"]}, "set_aside": 3, "set_aside_by_reason": {"other epoch": 3}},
    {"replica": 3, "status": "OFF", "since": 1.8e9, "last_check": None,
     "reason": say("stale", seq=12346, behind_ms=612), "health": {}}],
    "services": [{"service_name": "voter-svc", "status": "ON"}], "rejected_records": {"bad signature": 1234}}
PROCESSES = {"host": "127.0.0.1", "processes": [
    {"name": f"inventory-{r}", "pid": 4000 + r, "running": True, "restarts": 1200 * (r - 1), "replica": r}
    for r in (1, 2, 3)] + [{"name": "voter", "pid": 4100, "running": True, "restarts": 0}]}


def test_status_and_failures_on_literal_answers_in_spanish() -> None:
    """`faultlab status` and `faultlab failures` on literal answers: the monitor's reasons and what detected each
    fault said in Spanish, counts in the Spanish format."""
    from faultlab.cli.status_table import failures_table, print_status
    from faultlab.core.config import Settings

    buffer = io.StringIO()
    with spanish():
        console = Console(file=buffer, width=200, color_system=None)
        print_status(console, PROCESSES, MONITOR, Settings())
        console.print(failures_table([{"replica": 2, "fault_kind": "latency", "activated_at": 1.8e9,
                                       "detected_at": 1.8e9 + 0.25, "detected_by": BY_MONITOR, "ttd_ms": 1250.5,
                                       "cleared_at": None, "recovered_at": None, "ttr_ms": None}]))
    text = buffer.getvalue()
    assert "conexión rechazada (detector error-rate)" in text and "monitor: conexión rechazada" in text
    assert "desactualizada: le falta el seq 12.346" in text and "1.250,5" in text and "1.234" in text
    assert not problems(prose(text)), problems(prose(text))[:12]


def test_console_summary_of_a_run_in_spanish() -> None:
    """What `faultlab experiment` prints at the end of a run and after each phase run, in Spanish."""
    from faultlab.cli.report import phase_line, print_summary

    report = rich_report()
    buffer = io.StringIO()
    with spanish(), redirect_stdout(buffer):
        console = Console(file=buffer, width=250, color_system=None)
        print_summary(console, report)
        for result in report.results:
            console.print(phase_line(result))
    text = buffer.getvalue()
    assert "historial de lecturas: no válido — 12.000 lecturas votadas verificadas, 1 violación (0 valores incorrectos, 1 posición desconocida" in text, text
    assert "repetición 2: fallo no detectado" in text and "TTD 2.167 ms > 2.000 ms" in text
    assert not problems(prose(text)), problems(prose(text))[:12]


def test_api_checks_said_in_spanish() -> None:
    """A report checked through a system's API: every finding, rule and why said in Spanish on the page."""
    from tests.unit.test_api_checks import _report_with, literal_verdicts

    for verdict in asyncio.run(literal_verdicts()):
        texts = visible_texts(render_html(_report_with(verdict), "es"), ES)
        assert not problems(texts), problems(texts)[:12]


def test_the_study_summary_in_spanish(tmp_path: Path) -> None:
    """`faultlab study`'s summary on a literal study, in Spanish."""
    from faultlab.cli.study import print_summary
    from faultlab.lab.study.report import load_study
    from tests.unit.test_study_page import write_study_folder

    study, _folder = load_study(write_study_folder(tmp_path))
    buffer = io.StringIO()
    with spanish():
        print_summary(Console(file=buffer, width=200, color_system=None), study)
    assert not problems(prose(buffer.getvalue())), problems(prose(buffer.getvalue()))[:12]


def test_fault_proxy_console_in_spanish() -> None:
    """`faultlab system proxy`'s banner, its fault events (parameters with the Spanish decimal mark, hits counted with
    a plural) and its errors about bad options are Spanish."""
    from faultlab.cli.proxy import _print_banner, _print_event, parse_ports
    from faultlab.lab.systems.proxy import FaultProxy, ProxyError

    buffer = io.StringIO()
    with spanish():
        console = Console(file=buffer, width=250, color_system=None)
        proxy = FaultProxy({1: "http://127.0.0.1:5001", 2: "http://127.0.0.1:5002"}, host="0.0.0.0",
                           ports={1: 6001, 2: 6002})
        _print_banner(console, proxy, "http://127.0.0.1:6010", "token", argparse.Namespace(listen="0.0.0.0",
                                                                                           advertise=None))
        _print_event(console, "fault_injected", {"replica": 1, "kind": "intermittent",
                                                 "params": {"probability": 0.3, "status": 500, "paths": ["/a"]}})
        _print_event(console, "fault_cleared", {"replica": 1, "kind": "intermittent", "hits": 1234})
        _print_event(console, "fault_cleared", {"replica": 2, "kind": "hang", "hits": 1})
        errors = []
        for bad in ("6001-6005", "70000", "x"):
            with pytest.raises(ValueError) as caught:
                parse_ports(bad, [1, 2])
            errors.append(str(caught.value))
        with pytest.raises(ProxyError) as caught:
            FaultProxy({1: "ftp://somewhere"})
        errors.append(str(caught.value))
    text = buffer.getvalue()
    assert "probability=0,3" in text and "1.234 solicitudes afectadas" in text and "1 solicitud afectada" in text
    assert "apunte el votador y el monitor" in text
    assert errors[0] == "--ports 6001-6005: 2 réplicas necesitan 2 puertos, el rango da 5", errors
    assert errors[3].startswith("destino 'ftp://somewhere': indique una URL base"), errors
    assert not problems(prose(text + "\n" + "\n".join(errors))), problems(prose(text + "\n".join(errors)))[:12]


def test_a_list_of_replicas_picks_the_singular_or_the_plural_in_both_languages() -> None:
    """A sentence counted by a list of replicas says "replica 2" for one and "replicas 1, 3" for two, in English and
    in Spanish ("la réplica" / "las réplicas"), never "replica(s)"."""
    one, two = say("phase_left_down", replicas=[2]), say("phase_left_down", replicas=[1, 3])
    assert render(one, "en").startswith("the phase left replica 2 down: ") and "bring it back" in render(one, "en")
    assert render(two, "en").startswith("the phase left replicas 1, 3 down: ")
    assert render(one, "es").startswith("la fase dejó caída la réplica 2:")
    assert render(two, "es").startswith("la fase dejó caídas las réplicas 1, 3:")
    assert "(s)" not in render(two, "es") + render(one, "en")
