"""A detector study on the dashboard's reports page and its study.html, in headless Chromium: listed beside an
experiment with its kind, its front from /api/runs/<name>, its page framed and drawn in the page's language, and
study.html's own language switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from faultlab.core import i18n
from faultlab.lab.study.html import front
from tests.e2e.test_dashboard import (  # noqa: F401  (fixtures: one browser and one reports dashboard for this module)
    PageProbe,
    artifacts_dir,
    browser,
    reports_dashboard,
)
from tests.e2e.test_i18n_pages import VISIBLE_TEXT, tab  # noqa: F401  (fixture: a fresh browser profile's tab)
from tests.unit.test_study_page import write_study_folder
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(150)

EXPERIMENT = "20260102T030405Z"  # the experiment the reports dashboard's runs folder starts with
STUDY = "20260103T000000Z-detectors"


@pytest.fixture(scope="module")
def study_run(reports_dashboard: tuple[str, Path]) -> tuple[str, dict[str, Any]]:  # noqa: F811
    """A small study folder in the dashboard's runs folder, written by the study's own code from literal traces
    (an intermittent fault and a crash), its study.html rendered in Spanish."""
    url, runs = reports_dashboard
    previous = i18n.active()
    i18n.activate("es")
    try:
        run = write_study_folder(runs, STUDY)
    finally:
        i18n.activate(previous)
    return url, json.loads((run / "study.json").read_text())


async def shot(probe: PageProbe, tmp_path_factory: pytest.TempPathFactory, name: str, capsys: Any) -> None:
    path = artifacts_dir(tmp_path_factory) / name
    await probe.page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


async def test_a_study_is_listed_beside_experiments_with_its_front_and_page(
        study_run: tuple[str, dict[str, Any]], tab: PageProbe, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811 (fixture)
        capsys: Any) -> None:
    """The reports page lists the study with its kind, start, duration, fault kinds, the lab's and the recommended
    setting and where the lab's setting is on the front; selected, it shows the front from /api/runs/<name> (not a
    verdict and phases) and frames study.html, drawn in the page's language; an experiment still shows its own."""
    url, study = study_run
    page = tab.page
    await page.goto(f"{url}/reports?lang=en#run={STUDY}")
    row = page.locator(f"#runs tbody tr[data-run='{STUDY}']")
    await row.wait_for(timeout=10_000)
    text = " ".join((await row.text_content() or "").split())
    pick = study["recommended"]["label"]
    for part in ("detector study", "1970-01-01T00:01:40.000+00:00", "1,010.0", "intermittent, crash",
                 "lab's setting consecutive failures=3 (on the front for crash)", f"recommended {pick}"):
        assert part in text, (part, text)
    assert await row.get_attribute("data-kind") == "study"
    experiment = page.locator(f"#runs tbody tr[data-run='{EXPERIMENT}']")
    assert "experiment" in (await experiment.locator(".kind").text_content() or "")

    labels = [r["setting"]["label"] for r in front(study, "intermittent")]
    await page.wait_for_function(f"() => document.querySelectorAll('#study-front tbody tr').length === {len(labels)}",
                                 timeout=10_000)
    shown = await page.eval_on_selector_all("#study-front tbody tr td:first-child span[translate=no]",
                                            "els => els.map((e) => e.textContent)")
    assert shown == labels
    assert await page.is_hidden("#experiment-detail") and await page.is_visible("#study-detail")
    assert await page.text_content("#run-label") == "Detector study"
    assert "Pareto front on intermittent" in (await page.text_content("#study-summary") or "")
    assert (await page.get_attribute("#run-html-link", "href")).endswith(f"/runs/{STUDY}/study.html")
    assert (await page.get_attribute("#run-json-link", "href")).endswith(f"/runs/{STUDY}/study.json")
    assert await page.text_content("#run-html-link") == "open study.html"
    assert (await page.get_attribute("#run-frame", "src")).endswith(f"/runs/{STUDY}/study.html#lang=en")

    frame = page.frame_locator("#run-frame")
    english = frame.locator("div.lang[data-lang=en]")
    await english.locator("#scatter-intermittent-en .legendtext").first.wait_for(timeout=15_000)
    await english.locator("#scatter-crash-en .legendtext").first.wait_for(timeout=15_000)
    assert (await english.locator("h1").text_content() or "").startswith("Detector study")
    assert await frame.locator("div.lang[data-lang=es]").is_hidden()
    legends = await english.locator("#scatter-intermittent-en .legendtext").all_text_contents()
    assert "Pareto front" in legends and "the lab's current setting: consecutive failures=3" in legends
    page_texts = await page.evaluate(VISIBLE_TEXT)
    frame_texts = await page.frames[1].evaluate(VISIBLE_TEXT)
    assert len(frame_texts) > 80
    assert not leftovers(page_texts, "en"), leftovers(page_texts, "en")
    assert not leftovers(frame_texts, "en"), leftovers(frame_texts, "en")[:10]
    await shot(tab, tmp_path_factory, "reports-study-en.png", capsys)

    await experiment.click()  # an experiment is shown as before: its verdict and phases, its report.html
    await page.wait_for_function("() => document.querySelectorAll('#run-results tbody tr').length === 2",
                                 timeout=10_000)
    assert await page.is_visible("#experiment-detail") and await page.is_hidden("#study-detail")
    assert (await page.get_attribute("#run-frame", "src")).endswith(f"/runs/{EXPERIMENT}/report.html#lang=en")
    assert await page.text_content("#run-html-link") == "open report.html"
    assert not [p for p in tab.problems if "favicon" not in p], tab.problems


async def test_the_study_on_the_reports_page_in_spanish(study_run: tuple[str, dict[str, Any]], tab: PageProbe,  # noqa: F811 (fixture)
                                                         tmp_path_factory: pytest.TempPathFactory,
                                                         capsys: Any) -> None:
    """In Spanish the study's row, its front and its framed study.html (scatters included) are Spanish, with no word
    of English outside data."""
    url, _study = study_run
    page = tab.page
    await page.goto(f"{url}/reports?lang=es#run={STUDY}")
    await page.locator(f"#runs tbody tr[data-run='{STUDY}'] .kind").wait_for(timeout=10_000)
    assert await page.text_content(f"#runs tbody tr[data-run='{STUDY}'] .kind") == "estudio de detectores"
    await page.wait_for_function("() => document.querySelectorAll('#study-front tbody tr').length > 0", timeout=10_000)
    assert await page.text_content("#run-html-link") == "abrir study.html"
    frame = page.frame_locator("#run-frame")
    spanish = frame.locator("div.lang[data-lang=es]")
    await spanish.locator("#scatter-intermittent-es .legendtext").first.wait_for(timeout=15_000)
    assert (await spanish.locator("h1").text_content() or "").startswith("Estudio de detectores")
    legends = await spanish.locator("#scatter-intermittent-es .legendtext").all_text_contents()
    assert "frente de Pareto" in legends
    page_texts = await page.evaluate(VISIBLE_TEXT)
    frame_texts = await page.frames[1].evaluate(VISIBLE_TEXT)
    assert "configuración del laboratorio" in " ".join(page_texts) and len(frame_texts) > 80
    assert not leftovers(page_texts, "es"), leftovers(page_texts, "es")
    assert not leftovers(frame_texts, "es"), leftovers(frame_texts, "es")[:10]
    await shot(tab, tmp_path_factory, "reports-study-es.png", capsys)
    assert not [p for p in tab.problems if "favicon" not in p], tab.problems


async def test_study_html_switches_language_by_itself_and_remembers(study_run: tuple[str, dict[str, Any]],
                                                                     tab: PageProbe) -> None:  # noqa: F811 (fixture)
    """Opened on its own from the dashboard, study.html shows Spanish (the language it was rendered in), draws its
    scatters; its English button shows the English view with its scatters and keeps that choice on reload. The
    dashboard serves nothing else of the study's folder."""
    url, _study = study_run
    page = tab.page
    await page.goto(f"{url}/runs/{STUDY}/study.html")
    await page.locator("#scatter-crash-es .legendtext").first.wait_for(timeout=15_000)
    assert await page.evaluate("document.documentElement.lang") == "es"
    await page.click(".langs button[data-lang=en]")
    await page.locator("#scatter-crash-en .legendtext").first.wait_for(timeout=15_000)
    assert await page.is_hidden("div.lang[data-lang=es]")
    assert (await page.evaluate("document.title")).startswith("Detector study")
    await page.reload()
    await page.locator("#scatter-intermittent-en .legendtext").first.wait_for(timeout=15_000)
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert not tab.problems, tab.problems
    async with aiohttp.ClientSession() as session:
        for bad in (f"/runs/{STUDY}/report.html", f"/runs/{STUDY}/traces", f"/runs/{STUDY}/traces%2Fquiet.jsonl"):
            async with session.get(url + bad) as resp:
                assert resp.status in (400, 404), bad
