"""Comparing runs: exact intervals and rank tests on literal samples whose answers are known (identical, fully
separated at the smallest sizes that can tell, too few, ties), runs built from literal values, and the two small
recorded runs side by side (3 repetitions each: too few to judge)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest

from faultlab.lab.compare import (
    LEVEL,
    MIN_REPETITIONS,
    compare,
    hodges_lehmann,
    judge,
    load_runs,
    median_interval,
    rank_test,
)
from faultlab.lab.compare_html import render_compare
from faultlab.lab.report import build_report
from faultlab.lab.report_model import Report
from tests.unit.test_report import experiment_data, result

ROOT = Path(__file__).resolve().parents[2]
RECORDED = sorted((ROOT / "tests" / "data" / "runs").iterdir())  # A: consecutive detector; B: error-rate, 100 ms


def report(phase: str, ttr_ms: list[float | None], success: list[float] | None = None, name: str = "run") -> Report:
    """A report with one faulted phase: one result per repetition with these TTRs (and success rates)."""
    rates = success or [100.0] * len(ttr_ms)
    return build_report(experiment_data([result(phase, i + 1, 100.0, ttr, rate=rate, offset=20.0 * i)
                                         for i, (ttr, rate) in enumerate(zip(ttr_ms, rates, strict=True))]), {}, name)


def test_the_minimum_is_the_fewest_repetitions_that_can_tell_runs_apart() -> None:
    """With n and n values the most extreme splits are 2 of C(2n, n): at 3 each that is 10 % (never beyond the noise
    at 95 %), at MIN_REPETITIONS = 4 each 2.9 %."""
    assert MIN_REPETITIONS == 4 and LEVEL == 0.95
    assert 2 / comb(2 * 3, 3) > 1 - LEVEL >= 2 / comb(2 * MIN_REPETITIONS, MIN_REPETITIONS)
    assert rank_test([1.0, 2.0, 3.0], [11.0, 12.0, 13.0]) == pytest.approx(0.1)  # fully apart, and still 10 %


def test_the_median_interval_is_the_binomial_one_and_none_below_six_values() -> None:
    """[x(k), x(n+1-k)] with the largest k covering 95 %: none for 5 values (their range covers 94 %), the range
    for 6 to 8, the 6th and 15th of 20 (the textbook table)."""
    assert median_interval([]) is None and median_interval([5.0]) is None
    assert median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) is None
    assert median_interval([6.0, 1.0, 2.0, 3.0, 4.0, 5.0]) == (1.0, 6.0)
    assert median_interval([float(v) for v in range(1, 21)]) == (6.0, 15.0)


def test_identical_samples_show_no_difference() -> None:
    """The same values on both sides: p = 1, shift 0, an interval around 0, within the noise."""
    same = [210.0, 250.0, 230.0, 400.0]
    assert rank_test(same, same) == 1.0
    shift, interval = hodges_lehmann(same, same)
    assert shift == 0 and interval is not None and interval[0] < 0 < interval[1]
    assert judge(same, same, smaller_is_better=True)["verdict"] == "same"


def test_fully_separated_samples_at_four_each_are_beyond_the_noise() -> None:
    """1–4 against 11–14: p = 2/70 (only the observed split and its mirror are as extreme), shift 10 with the exact
    interval [7, 13] (every difference: with 4 and 4 it leaves none out); worse when smaller is better."""
    low, high = [1.0, 2.0, 3.0, 4.0], [11.0, 12.0, 13.0, 14.0]
    assert rank_test(low, high) == pytest.approx(2 / 70)
    assert hodges_lehmann(low, high) == (10.0, (7.0, 13.0))
    assert judge(low, high, smaller_is_better=True) == {"shift": 10.0, "difference_interval": (7.0, 13.0),
                                                        "p_value": 0.0286, "verdict": "worse"}
    assert judge(low, high, smaller_is_better=False)["verdict"] == "better"
    assert judge(high, low, smaller_is_better=True)["verdict"] == "better"
    one_overlap = rank_test([1.0, 2.0, 3.0, 12.0], [11.0, 13.0, 14.0, 15.0])  # 4 of 70 splits as extreme
    assert one_overlap == pytest.approx(4 / 70) and judge([1.0, 2.0, 3.0, 12.0], [11.0, 13.0, 14.0, 15.0],
                                                          True)["verdict"] == "same"


def test_below_the_minimum_the_comparison_says_too_few() -> None:
    """1 against 3 values, or 3 against 3 fully apart: too few to judge, no shift, interval or p-value claimed; no
    value at all on one side: unknown."""
    for a, b in (([24.7], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [11.0, 12.0, 13.0]),
                 ([1.0, 2.0, 3.0], [11.0, 12.0, 13.0, 14.0, 15.0])):
        assert judge(a, b, True) == {"shift": None, "difference_interval": None, "p_value": None,
                                     "verdict": "too_few"}
    assert judge([], [1.0, 2.0, 3.0, 4.0], True)["verdict"] == "unknown"


def test_ties_get_midranks_and_count_against_the_verdict() -> None:
    """All equal: p = 1 and shift 0. 1,1,1,1 against 2,2,2,2: still the most extreme of 70 splits (2/70). 1–4 against
    4–7: the shared 4 makes two splits as extreme on each side (4/70), within the noise, where 1–4 against 5–8 is
    not."""
    assert rank_test([100.0] * 4, [100.0] * 4) == 1.0 and hodges_lehmann([100.0] * 4, [100.0] * 4) == (0.0, (0.0, 0.0))
    assert rank_test([1.0] * 4, [2.0] * 4) == pytest.approx(2 / 70)
    assert rank_test([1.0, 2.0, 3.0, 4.0], [4.0, 5.0, 6.0, 7.0]) == pytest.approx(4 / 70)
    assert judge([1.0, 2.0, 3.0, 4.0], [4.0, 5.0, 6.0, 7.0], True)["verdict"] == "same"
    assert judge([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], True)["verdict"] == "worse"


@pytest.mark.parametrize(("a", "b"), [
    ([99.5, 100.0, 100.0, 100.0, 98.0], [100.0, 100.0, 97.0, 100.0]),
    ([210.0, 230.0, 230.0, 250.0], [240.0, 230.0, 260.0, 255.0, 250.0, 300.0]),
    ([5.0, 1.0, 3.0, 2.0, 4.0, 6.0], [2.5, 6.5, 7.0, 8.0]),
])
def test_the_exact_p_value_is_every_split_counted(a: list[float], b: list[float]) -> None:
    """The p-value equals a plain enumeration of every split of the pooled values with the Mann–Whitney U (ties
    counted ½): the share of splits at least as far from the centre as the observed one."""
    def u(xs: list[float], ys: list[float]) -> float:
        return sum((y > x) + 0.5 * (y == x) for x in xs for y in ys)

    pooled, centre = [*a, *b], len(a) * len(b) / 2
    observed = abs(u(a, b) - centre)
    splits = [set(chosen) for chosen in itertools.combinations(range(len(pooled)), len(b))]
    far = sum(abs(u([pooled[i] for i in range(len(pooled)) if i not in s], [pooled[i] for i in s]) - centre)
              >= observed - 1e-9 for s in splits)
    assert rank_test(a, b) == pytest.approx(far / len(splits))


def test_larger_samples_use_the_normal_approximation() -> None:
    """30 against 30 values (beyond the exact sizes): a shift of 3 on a spread of 30 is within the noise, a shift of
    30 beyond it; the shift's interval contains the true shift."""
    a = [float(v) for v in range(30)]
    assert 0.1 < rank_test(a, [v + 3 for v in a]) < 0.5
    assert rank_test(a, [v + 30 for v in a]) < 1e-6
    shift, interval = hodges_lehmann(a, [v + 3 for v in a])
    assert shift == 3 and interval is not None and interval[0] < 3 < interval[1]


def test_runs_of_literal_values_side_by_side() -> None:
    """Four repetitions each: TTR fully apart is worse beyond the noise with its p-value; success rates all 100 % are
    within the noise; a third run of two repetitions (one missed) is too few, and says so in the terminal's words."""
    a = report("latency", [95.0, 146.0, 69.0, 110.0])
    b = report("latency", [294.0, 208.0, 296.0, 250.0])
    c = report("latency", [300.0, None, 280.0], success=[100.0, 90.0, 100.0])
    result = compare([("A", a), ("B", b), ("C", c)])
    assert (result["min_repetitions"], result["level"], result["reference"]) == (4, 0.95, "A")
    rows = {r["metric"]: r for r in result["rows"]}
    ttr_b, ttr_c = rows["ttr_ms"]["runs"][1:]
    assert ttr_b["verdict"] == "worse" and ttr_b["p_value"] == 0.0286 and ttr_b["difference"] == 169.5
    assert ttr_b["shift"] == 152.5 and ttr_b["difference_interval"] == (62.0, 227.0)  # every difference b − a
    assert (ttr_c["n"], ttr_c["misses"], ttr_c["verdict"], ttr_c["p_value"]) == (2, 1, "too_few", None)
    assert rows["success_rate"]["runs"][1]["verdict"] == "same"
    assert rows["success_rate"]["runs"][1]["p_value"] == 1.0


def test_two_recorded_runs_side_by_side() -> None:
    """Every phase and metric of both runs, their medians and spread as the reports say; three repetitions each are
    too few to judge, whatever the values (latency TTR 95 → 294 ms, fully apart, included)."""
    runs = load_runs(RECORDED)
    assert [name for name, _r in runs] == ["20261130T112356Z", "20261130T112449Z"]
    result = compare(runs)
    assert result["reference"] == "20261130T112356Z"
    assert [r["detector"] for r in result["runs"]] == ["consecutive", "error-rate"]
    assert result["runs"][1]["lab_settings"] == {"detector": "error-rate", "health_interval_ms": 100}
    rows = {(r["phase"], r["metric"]): r for r in result["rows"]}
    assert ("baseline", "ttd_ms") not in rows  # a baseline has no fault: no TTD to compare, and no miss
    assert set(rows) == {(p, m) for p in ("intermittent", "latency") for m in ("ttd_ms", "ttr_ms", "p95_latency_ms",
                                                                             "success_rate")} \
        | {("baseline", "p95_latency_ms"), ("baseline", "success_rate")}
    for (phase, metric), row in rows.items():  # the medians are the reports' own
        for (_name, recorded), cell in zip(runs, row["runs"], strict=True):
            stats = getattr(recorded.phases[phase], metric)
            assert cell["median"] == stats.median and cell["min"] == stats.min, (phase, metric)
            assert cell["interval"] is None  # 3 values: no interval of the median reaches 95 %
        assert row["runs"][1]["verdict"] == "too_few" and row["runs"][1]["difference_interval"] is None
    assert rows[("latency", "ttr_ms")]["runs"][1]["difference"] == pytest.approx(198.5, abs=0.1)
    assert compare(runs) == result  # nothing random: the same runs, the same comparison


def test_compare_needs_two_runs() -> None:
    """One run alone is not a comparison."""
    with pytest.raises(ValueError, match="two runs or more"):
        compare(load_runs(RECORDED[:1]))


def literal_runs() -> list[tuple[str, Report]]:
    """Run A, and run B with TTRs fully above A's, four repetitions each."""
    return [("A", report("latency", [95.0, 146.0, 69.0, 110.0], name="A")),
            ("B", report("latency", [294.0, 208.0, 296.0, 250.0], name="B"))]


def test_the_page_is_self_contained_translated_and_escaped() -> None:
    """Both languages' views (Spanish shown first), the verdicts and "too few" in each, the comparison once as JSON,
    Plotly inlined, nothing loaded."""
    result = compare(literal_runs())
    result["runs"][0]["title"] = "</script><b>x</b>"
    page = render_compare(result, "es")
    assert page.index('data-lang="es"') < page.index('data-lang="en"')
    assert "comparación" in page and "peor, más allá del ruido" in page and "worse, beyond the noise" in page
    assert "+169,5" in page and "p = 0,029" in page and "p = 0.029" in page  # each view's number format
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    block = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', page, re.DOTALL)
    assert block is not None and json.loads(block.group(1))["comparison"]["reference"] == "A"
    recorded = render_compare(compare(load_runs(RECORDED)), "es")
    assert "demasiado pocas repeticiones para juzgar: 3 y 3; al menos 4 en cada una" in recorded
    assert "too few repetitions to judge: 3 and 3; at least 4 each" in recorded
    assert "más allá del ruido</span>" not in recorded and "dentro del ruido</span>" not in recorded


def test_faultlab_compare_prints_the_table_and_writes_the_page(tmp_path: Path) -> None:
    """`faultlab compare A B` prints each phase's figures side by side with the verdicts and writes the HTML page;
    runs of three repetitions are too few to judge, in the reader's language."""
    for name, data in literal_runs():
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(data.document()))
    out = tmp_path / "cmp.html"
    env = {"COLUMNS": "220", "PATH": "/usr/bin:/bin", "FAULTLAB_LANG": "en"}
    done = subprocess.run([sys.executable, "-m", "faultlab", "compare", str(tmp_path / "A"), str(tmp_path / "B"),
                           "--html", str(out)], check=False, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "+169.5 [62.0 … 227.0] p = 0.029" in done.stdout and "worse, beyond the noise" in done.stdout
    assert "within the noise" in done.stdout and out.stat().st_size > 1_000_000
    recorded = subprocess.run([sys.executable, "-m", "faultlab", "--lang", "es", "compare", *map(str, RECORDED),
                               "--html", str(out)], check=False, capture_output=True, text=True, timeout=60, env=env)
    assert recorded.returncode == 0, recorded.stderr
    assert "demasiado pocas repeticiones para juzgar: 3 y 3; al menos 4 en cada una" in recorded.stdout
    assert "intermittent" in recorded.stdout and "ruido" not in recorded.stdout
    one = subprocess.run([sys.executable, "-m", "faultlab", "compare", str(RECORDED[0])], check=False,
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                                          "FAULTLAB_LANG": "en"})
    assert one.returncode == 2 and "two runs or more" in one.stdout


def test_a_polled_run_beside_an_event_timed_run_is_said_not_like_with_like(tmp_path: Path) -> None:
    """A guide system's run (TTD polled every 20 ms) against a shop run (its monitor's event times): the comparison
    says how each was measured and warns, in both languages and on the command line; two polled runs are alike."""
    def guide(name: str, ttr_ms: list[float | None]) -> Report:
        data = experiment_data([result("latency", i + 1, 100.0, ttr, offset=20.0 * i) for i, ttr in enumerate(ttr_ms)])
        data["system"] = {"kind": "guide", "name": "student system", "observer": {"interval_ms": 20.0}}
        return build_report(data, {"system": "student system"}, name)

    shop, student = literal_runs()[0], ("S", guide("S", [700.0, 720.0, 690.0, 760.0]))
    mixed = compare([shop, student])
    assert [(r["measured_by"], r["poll_interval_ms"]) for r in mixed["runs"]] == [("events", None), ("polled", 20.0)]
    assert mixed["runs"][1]["system"] == {"kind": "guide", "name": "student system"}
    assert mixed["like_with_like"] == {"same": False, "methods": ["events", "polled"], "up_to_ms": 20.0}
    assert compare([student, ("T", guide("T", [650.0, 640.0, 700.0, 710.0]))])["like_with_like"]["same"]
    page = render_compare(mixed, "es")
    assert "Not like with like" in page and "No es comparar lo mismo" in page and "consultado cada 20 ms" in page
    for name, data in (shop, student):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(data.document()))
    done = subprocess.run([sys.executable, "-m", "faultlab", "compare", str(tmp_path / "A"), str(tmp_path / "S")],
                          check=False, capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "220", "PATH": "/usr/bin:/bin", "FAULTLAB_LANG": "en"})
    assert done.returncode == 0, done.stderr
    assert "not like with like: the TTD and TTR of A come from the shop monitor's own event times" in " ".join(
        done.stdout.split())
