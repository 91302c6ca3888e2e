"""study.html from study.json: one self-contained page with its data once as JSON, the tables rendered with
autoescaping in both languages, the front of each fault kind with the lab's and the recommended setting marked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from faultlab.core.said import say
from faultlab.lab.study.html import chart_data, front, render_body, render_html
from faultlab.lab.study.report import analyse, load_study, write_study
from tests.unit.test_study import healthy, probe, study_meta
from tests.untranslated import leftovers, visible_texts


def crash_segment(start: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """3 s of health, then replica 3's process dies (the supervisor says so 20 ms later), its probes are refused for
    0.3 s, and its replacement answers again: conclusive evidence, the same TTD for every detector."""
    entries = healthy(start, 3.0)
    t0 = start + 3.0
    entries.append({"replica": 3, "kind": "fault_injected", "ok": False, "at": t0, "source": "replica", "t": t0,
                    "fault": {"kind": "crash", "params": {}}})
    entries.append({"replica": 3, "kind": "process_exit", "ok": False, "at": t0 + 0.001, "source": "supervisor",
                    "t": t0 + 0.02, "code": 1})
    entries += [{**probe(3, round(t0 + 0.05 + 0.02 * i, 6), False), "kind": "refused"} for i in range(15)]
    entries += [probe(r, t0 + 0.1) for r in (1, 2)]
    entries += healthy(t0 + 0.4, 2.0)
    fault = {"segment": "fault-crash", "kind": "crash", "replica": 3, "rep": 1, "activated_at": t0,
             "deadline": t0 + 1.0, "cleared_at": t0, "monitor_ttd_ms": 20.0}
    return sorted(entries, key=lambda e: e["t"]), [fault]


def write_study_folder(root: Path, name: str = "20261130T000000Z-detectors") -> Path:
    """A study folder written by the study's own code from literal traces: a quiet and a noisy stretch, one
    intermittent fault and one crash (study.json, study.html, traces/)."""
    meta, traces = study_meta()
    crash, faults = crash_segment(1100.0)
    traces["fault-crash"] = crash
    meta["segments"].append({"name": "fault-crash", "kind": "fault", "start": 1100.0, "measure_from": 1101.5,
                             "end": 1106.0, "fault_kind": "crash", "file": "traces/fault-crash.jsonl"})
    meta["faults"] += faults
    meta["observations"]["fault-crash"] = len(crash)
    meta.update(run_id=name, ended_at=1110.0, notes=[say("study_not_steady_injecting", kind="crash", repetition=1,
                                                     problems=[say("replica_is", replica=2, status="OFF")])],
                machine_before={"cpus": 2, "load_average": [3.1, 2.0, 1.5]}, host_load={
                    "quiet": {"min": 1.25, "mean": 2.5, "max": 3.75, "samples": 2}})
    run = root / name
    (run / "traces").mkdir(parents=True)
    for segment, entries in traces.items():
        (run / "traces" / f"{segment}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    write_study(run, analyse(run, meta, budget_per_hour=1.0, focus="intermittent"))
    return run


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return load_study(write_study_folder(tmp_path_factory.mktemp("study")))[0]


def data_block(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="study-data">(.*?)</script>', page, re.DOTALL)
    assert match is not None and page.count('id="study-data"') == 1
    return dict(json.loads(match.group(1)))


def view(page: str, lang: str) -> str:
    """One language's view of the page (its div, up to the next one or the JSON block)."""
    start = page.index(f'<div class="lang" lang="{lang}" data-lang="{lang}"')
    ends = [i for i in (page.find('<div class="lang" lang=', start + 10), page.find('<script type="application/json"',
                                                                                      start)) if i > 0]
    return page[start:min(ends)]


def test_the_page_is_self_contained_with_its_data_once(study: dict[str, Any]) -> None:
    """Plotly's basic bundle, the language switch and the scatter script are inlined (nothing loaded, no import
    left); the settings' figures are one JSON block with both languages' chart labels; rendering is repeatable."""
    page = render_html(study, "en")
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    assert page.count("<script") == 3  # Plotly, the JSON block, the module
    assert "plotly.js (basic - minified) v" in page and "export function scatterFigure" in page
    assert "export function startLanguageSwitch" in page and not re.search(r"^import\s", page, re.MULTILINE)
    assert 1_000_000 < len(page) < 1_500_000
    data = data_block(page)
    assert data["kinds"] == ["intermittent", "crash"] == study["grid"]["kinds"]
    assert data["recommended"] == study["recommended"]["label"]
    assert len(data["results"]) == len(study["results"]) == study["grid"]["settings"]
    current = [r for r in data["results"] if r["current"]]
    assert [r["label"] for r in current] == ["consecutive failures=3"]
    assert current[0]["ttd"]["crash"] == {"median_ms": 20.0, "p95_ms": 20.0, "missed": 0}
    assert current[0]["per_hour"] == {"fault-free": 0.0, "noisy": 0.0, "quiet": 0.0}
    assert set(data["labels"]) == {"en", "es"} and data["labels"]["es"]["separators"] == ",."
    assert data["labels"]["es"]["kinds"]["intermittent"] == "fallo intermitente"
    assert data == {**chart_data(study), "labels": data["labels"]}
    for lang in ("en", "es"):
        assert f'id="scatter-intermittent-{lang}"' in page and f'id="scatter-crash-{lang}"' in page
    assert render_html(study, "en") == page
    run = Path(study["run_dir"])
    assert (run / "study.html").read_text() == render_html(study)  # what write_study wrote


def test_the_tables_show_each_front_and_mark_the_lab_and_the_pick(study: dict[str, Any]) -> None:
    """Each fault kind's table lists its front in the scatter's order, the lab's setting starred and the pick marked;
    the banner names the pick and the variables that select it; the comparison table has both settings."""
    english = view(render_html(study, "en"), "en")
    for kind in ("intermittent", "crash"):
        table = re.search(rf'<table class="front" data-kind="{kind}">(.*?)</table>', english, re.DOTALL)
        assert table is not None
        labels = re.findall(r'<tr><td class="l"><span translate="no">([^<]+)</span>', table.group(1))
        assert labels == [r["setting"]["label"] for r in front(study, kind)] and labels
    crash_front = {r["setting"]["label"] for r in front(study, "crash")}
    assert "consecutive failures=3" in crash_front  # a process exit is conclusive: every detector as fast
    assert 'consecutive failures=3</span> <span class="mark" title="the lab\'s current setting">★' in english
    pick = study["recommended"]["label"]
    assert f'<b translate="no">{pick}</b>' in english and "FAULTLAB_DETECTOR=" + study["recommended"]["detector"] \
        in english
    assert english.count(f'{pick}</span> <span class="mark" title="recommended">◆') == sum(
        pick in {r["setting"]["label"] for r in front(study, k)} for k in ("intermittent", "crash"))
    compare = re.search(r'<h2 id="compare-en">.*?</table>', english, re.DOTALL)
    assert compare is not None
    assert "<b>current</b>: <span translate=\"no\">consecutive failures=3</span>" in compare.group(0)
    assert "160.0 / 160.0" in compare.group(0) and "20.0 / 20.0" in compare.group(0)  # intermittent, crash
    assert "<b>recommended</b>: " in compare.group(0)
    assert "crash #1: not steady before injecting: replica 2 is OFF" in english and "1.25 / 2.50 / 3.75" in english
    spanish = str(render_body(study, "es"))
    assert "crash #1: no estable antes de inyectar: la réplica 2 está OFF" in spanish  # a note, said in Spanish


def test_study_text_cannot_break_out_of_the_page(study: dict[str, Any]) -> None:
    """Text from study.json (a setting's label, the run id, notes) is escaped in the tables and cannot close the
    JSON block or the script; NaN becomes null."""
    bad = json.loads(json.dumps(study))
    bad["run_id"] = "<b>run</b>"
    bad["notes"] = ["</script><script>alert(1)</script>"]
    bad["current_result"]["setting"]["label"] = "</script><img src=x onerror=alert(1)>"
    bad["results"][0]["setting"]["label"] = "</script><img src=x onerror=alert(2)>"
    bad["results"][1]["mistakes"]["fault-free"]["per_hour"] = float("nan")
    page = render_html(bad, "en")
    assert "<b>run</b>" not in page and "<script>alert(1)" not in page and "<img" not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    data = data_block(page)
    assert data["results"][0]["label"] == "</script><img src=x onerror=alert(2)>"
    assert data["results"][1]["per_hour"]["fault-free"] is None


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_study_page_has_no_text_of_the_other_language(study: dict[str, Any], lang: str) -> None:
    """Each language's view of study.html (banner, tables, method, segments) holds no word of the other language
    outside data (settings, segment names, fault kinds, JSON); the view shown first is the one asked for."""
    page = render_html(study, lang)
    assert f'<html lang="{lang}">' in page
    assert re.search(rf'<div class="lang" lang="{lang}" data-lang="{lang}">', page)  # shown (not hidden)
    other = "en" if lang == "es" else "es"
    assert re.search(rf'<div class="lang" lang="{other}" data-lang="{other}" hidden>', page)
    texts = visible_texts(page, {"class": "lang", "data-lang": lang})
    assert len(texts) > 80
    assert not leftovers(texts, lang), leftovers(texts, lang)[:10]


def test_the_spanish_page_uses_the_guides_words(study: dict[str, Any]) -> None:
    """The Spanish view names the guide's fault kinds, replicas and TTD, and writes decimal commas."""
    spanish = " ".join(visible_texts(render_html(study, "es"), {"class": "lang", "data-lang": "es"}))
    for words in ("Estudio de detectores", "fallo intermitente", "crash", "réplica", "TTD mediana",
                  "OFF falsos/h", "tramo sin fallos", "160,0 / 160,0", "Recomendada", "Método"):
        assert words in spanish, words
