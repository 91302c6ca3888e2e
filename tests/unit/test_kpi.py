"""The guide's KPI table rates each value (óptimo, aceptable, crítico) and report.html says the rating, each phase's
rule and a run shorter than its file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlab.lab import kpi
from faultlab.lab.report import build_report, load_report, phase_results, validate
from faultlab.lab.report_html import render_body
from faultlab.lab.report_model import Report
from tests.unit.test_report import experiment_data, result

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


@pytest.mark.parametrize(("measure", "value", "level"), [
    ("ttd_ms", 999, "optimal"), ("ttd_ms", 1000, "acceptable"), ("ttd_ms", 1999, "acceptable"),
    ("ttd_ms", 2000, "between"), ("ttd_ms", 5000, "between"), ("ttd_ms", 5001, "critical"),
    ("ttr_ms", 499, "optimal"), ("ttr_ms", 1800, "between"), ("ttr_ms", 2001, "critical"),
    ("success_rate", 99.5, "optimal"), ("success_rate", 99, "acceptable"), ("success_rate", 95.1, "acceptable"),
    ("success_rate", 92, "between"), ("success_rate", 60, "critical"),
    ("p95_latency_ms", 150, "optimal"), ("p95_latency_ms", 499, "acceptable"), ("p95_latency_ms", 1200, "critical"),
    ("rps", 150, "optimal"), ("rps", 50, "between"), ("rps", 5, "critical"),
])
def test_the_guides_bounds_rate_each_value(measure: str, value: float, level: str) -> None:
    """A value strictly past a bound is in its band (the guide's < and >); between acceptable and critical is
    "between", as is anything between optimal and critical where the guide gives no acceptable value."""
    assert kpi.rate(measure, value) == level


def test_the_table_is_the_guides_and_unknown_measures_are_not_rated() -> None:
    """One row per measure with the guide's words; no value or no row: no rating."""
    assert [row.measure for row in kpi.KPI_TABLE] == ["ttd_ms", "ttr_ms", "success_rate", "p95_latency_ms", "rps"]
    for row in kpi.KPI_TABLE:
        assert "Valor Óptimo" in row.guide and "Valor Crítico" in row.guide
        assert f"{row.optimal:g}" in row.guide and f"{row.critical:g}" in row.guide
    assert kpi.rate("ttd_ms", None) is None and kpi.rate("p99_latency_ms", 10) is None
    assert kpi.level_word("rps", "between") == "between optimal and critical"
    assert kpi.level_word("ttd_ms", "between") == "between acceptable and critical"


def two_down_report() -> Report:
    """A report of baseline, crash and two-down, one repetition each, from an experiment of the guide's."""
    data = experiment_data([result("baseline", 1, None, None, p95=40, rate=99.5),
                            result("crash", 1, 12.0, 300.0, p95=150, rate=97.0, offset=10),
                            result("two-down", 1, 15.0, 1800.0, p95=900, rate=60.0, offset=20,
                                   quorum={"lost": True, "regained": True})])
    return build_report(data, {}, "kpi", source={"phases": ["baseline", "crash", "latency", "two-down"],
                                                   "repeat": 3, "title": "The study guide's experiment"})


def test_a_report_rates_its_medians_runs_and_summary_and_says_each_phases_rule() -> None:
    """Ratings are typed fields of report.json (and valid by its schema); two-down is judged on quorum, so its 60 %
    success is rated critical and marked not judged, its 1.8 s TTR rated and held to the restart limit."""
    report = two_down_report()
    validate(report)
    phases = report.phases
    assert [phases[n].rule for n in phases] == ["thresholds", "restart", "quorum"]
    two_down = phases["two-down"].ratings or {}
    assert two_down["success_rate"].level == "critical" and not two_down["success_rate"].judged
    assert two_down["ttr_ms"].level == "between" and two_down["ttr_ms"].judged
    assert (phases["crash"].ratings or {})["success_rate"].judged
    [run] = [r for r in report.results if r.phase == "two-down"]
    assert (run.ratings or {})["success_rate"].value == 60.0
    assert set(report.summary.ratings or {}) <= {"avg_ttd_ms", "avg_ttr_ms", "max_p95_ms", "min_success_rate"}
    assert report.kpi_table == list(kpi.KPI_TABLE)
    again = Report.model_validate(report.document())
    assert again.phases["two-down"].ratings == phases["two-down"].ratings


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_page_rates_each_value_and_says_the_rule_and_the_shorter_run(lang: str) -> None:
    """report.html in each language: the bands in the guide's words, two-down's rule in its own row, the title
    saying what was run, and a notice that the run was shorter than its file."""
    report = two_down_report()
    report.episodes = [e for r in report.results for e in r.episodes or []]  # the monitor's episodes of the run
    html = str(render_body(report, lang))
    words = {"en": ("optimal", "critical", "judged on losing quorum", "A shorter run", "(not judged)"),
             "es": ("óptimo", "crítico", "se juzga por perder el quórum", "Una ejecución más corta", "(no juzgado)")}
    for word in words[lang]:
        assert word in html, word
    row = re.search(r'<tr id="phase-two-down-[a-z]+" data-rule="quorum">.*?</tr>', html, re.S)
    assert row is not None and "5000" in row.group(0).replace(".", "").replace(",", "")
    assert 'data-kpi="success_rate" data-level="critical"' in row.group(0)
    assert "latency" in html.split('id="shorter-')[1].split("</div>")[0]  # the phase it left out
    episodes = html.split(f'id="episodes-{lang}"')[1].split("</table>")[0]  # each episode's TTD and TTR rated too
    assert episodes.count('data-kpi="ttd_ms"') == 2 and episodes.count('data-kpi="ttr_ms"') == 2
    heading = html.split("<h1>")[1].split("</h1>")[0]
    name = {"en": "The study guide&#39;s experiment", "es": "El experimento de la guía de estudio"}[lang]
    assert heading.startswith(f'{name}: <span translate="no">baseline, crash, two-down</span> × 1'), heading


def test_older_reports_load_and_their_page_rates_them_from_what_they_hold() -> None:
    """A stored run from before ratings loads (its ratings None, the file kept as read); its page rates it from its
    values, two-down judged on quorum, and says nothing of a shorter run (its file is not known)."""
    for run in sorted(RUNS.iterdir()):
        report = load_report(run)
        assert all(st.ratings is None for st in report.phases.values())
        html = str(render_body(report, "en"))
        assert all(st.ratings is None for st in report.phases.values())
        assert 'id="kpi-table-en"' in html and 'id="shorter-en"' not in html and 'data-kpi="success_rate"' in html
        if "two-down" in report.phases:
            assert 'data-rule="quorum"' in html


def test_phase_results_keep_ratings_through_a_round_trip() -> None:
    """A phase run's ratings survive model_validate of its own JSON."""
    report = two_down_report()
    [again] = phase_results([report.results[0].model_dump(mode="json", exclude_unset=True)])
    assert again.ratings == report.results[0].ratings
