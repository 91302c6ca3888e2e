"""Comparing runs: medians, spread and seeded bootstrap intervals on literal values, and two small recorded runs
side by side (the consecutive detector against the error-rate one checking every 100 ms)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.lab.compare import compare, difference_interval, load_runs, median_interval, verdict
from faultlab.lab.compare_html import render_compare

ROOT = Path(__file__).resolve().parents[2]
RECORDED = sorted((ROOT / "tests" / "data" / "runs").iterdir())  # A: consecutive detector; B: error-rate, 100 ms


def test_bootstrap_intervals_are_seeded_and_contain_the_median() -> None:
    """The same seed gives the same interval; it contains the median and lies within the values."""
    values = [210.0, 230.0, 250.0, 400.0, 220.0]
    first = median_interval(values, random.Random(7))
    assert first == median_interval(values, random.Random(7))
    assert first is not None and 210.0 <= first[0] <= 230.0 <= first[1] <= 400.0
    assert median_interval([], random.Random(7)) is None
    assert median_interval([5.0], random.Random(7)) == (5.0, 5.0)


def test_a_difference_is_beyond_the_noise_only_when_its_interval_leaves_out_zero() -> None:
    """Far apart values: the interval of the difference excludes 0; overlapping ones: it contains 0."""
    rng = random.Random(1)
    apart = difference_interval([100.0, 110.0, 105.0], [300.0, 320.0, 310.0], rng)
    assert apart is not None and apart[0] > 0 and verdict(apart, smaller_is_better=True) == "worse"
    assert verdict(apart, smaller_is_better=False) == "better"
    close = difference_interval([100.0, 300.0, 200.0], [150.0, 250.0, 210.0], rng)
    assert close is not None and close[0] <= 0 <= close[1] and verdict(close, True) == "same"
    assert verdict(None, True) == "unknown" and difference_interval([], [1.0], rng) is None


def test_two_recorded_runs_side_by_side() -> None:
    """Every phase and metric of both runs, their medians and spread as the reports say, B against A."""
    runs = load_runs(RECORDED)
    assert [name for name, _r in runs] == ["20261130T112356Z", "20261130T112449Z"]
    result = compare(runs, seed=1)
    assert result["reference"] == "20261130T112356Z"
    assert [r["detector"] for r in result["runs"]] == ["consecutive", "error-rate"]
    assert result["runs"][1]["lab_settings"] == {"detector": "error-rate", "health_interval_ms": 100}
    rows = {(r["phase"], r["metric"]): r for r in result["rows"]}
    assert ("baseline", "ttd_ms") not in rows  # a baseline has no fault: no TTD to compare, and no miss
    assert set(rows) == {(p, m) for p in ("intermittent", "latency") for m in ("ttd_ms", "ttr_ms", "p95_latency_ms",
                                                                             "success_rate")} \
        | {("baseline", "p95_latency_ms"), ("baseline", "success_rate")}
    for (phase, metric), row in rows.items():  # the medians are the reports' own
        for (_name, report), cell in zip(runs, row["runs"], strict=True):
            stats = report["phases"][phase][metric]
            assert cell["median"] == stats["median"] and cell["min"] == stats["min"], (phase, metric)
            assert cell["interval"][0] <= cell["median"] <= cell["interval"][1]
    ttr = rows[("latency", "ttr_ms")]["runs"][1]  # the error-rate rule wants a clean window before ON again
    assert ttr["difference"] == pytest.approx(198.5, abs=0.1) and ttr["verdict"] == "worse"
    assert ttr["difference_interval"][0] > 0
    ttd = rows[("latency", "ttd_ms")]["runs"][1]
    assert ttd["verdict"] == "same" and ttd["difference_interval"][0] < 0 < ttd["difference_interval"][1]
    assert rows[("baseline", "success_rate")]["runs"][1]["verdict"] == "same"
    assert compare(runs, seed=1) == result and compare(runs, seed=2) != result  # seeded: repeatable


def test_compare_needs_two_runs() -> None:
    """One run alone is not a comparison."""
    with pytest.raises(ValueError, match="two runs or more"):
        compare(load_runs(RECORDED[:1]))


def test_the_page_is_self_contained_translated_and_escaped() -> None:
    """Both languages' views (Spanish shown first), the comparison once as JSON, Plotly inlined, nothing loaded."""
    runs = load_runs(RECORDED)
    result = compare(runs)
    result["runs"][0]["title"] = "</script><b>x</b>"
    page = render_compare(result, "es")
    assert page.index('data-lang="es"') < page.index('data-lang="en"')
    assert "comparación" in page and "peor, más allá del ruido" in page and "worse, beyond the noise" in page
    assert "+198,5" in page  # the Spanish view's number format
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    block = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', page, re.DOTALL)
    assert block is not None and json.loads(block.group(1))["comparison"]["reference"] == "20261130T112356Z"


def test_faultlab_compare_prints_the_table_and_writes_the_page(tmp_path: Path) -> None:
    """`faultlab compare A B` prints each phase's figures side by side and writes the HTML page."""
    out = tmp_path / "cmp.html"
    done = subprocess.run([sys.executable, "-m", "faultlab", "compare", *map(str, RECORDED), "--html", str(out)],
                          check=False, capture_output=True, text=True, timeout=60, env={"COLUMNS": "220", "PATH": "/usr/bin:/bin",
                                                                           "FAULTLAB_LANG": "en"})
    assert done.returncode == 0, done.stderr
    assert "worse, beyond the noise" in done.stdout and "within the noise" in done.stdout
    assert "intermittent" in done.stdout and out.stat().st_size > 1_000_000
    one = subprocess.run([sys.executable, "-m", "faultlab", "compare", str(RECORDED[0])], check=False, capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "FAULTLAB_LANG": "en"})
    assert one.returncode == 2 and "two runs or more" in one.stdout
