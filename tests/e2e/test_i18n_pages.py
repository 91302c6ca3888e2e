"""The pages in both languages in headless Chromium: the live dashboard, the reports page and report.html render in
Spanish and in English with no word of the other language, no word the glossary replaces and no number in the other
language's format — the monitor's reasons on the cards and in the event list, and a run's misses, said from their
codes by the pages' scripts — and the language switch is remembered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from faultlab.lab.report import write_run
from faultlab.runtime.supervisor import Supervisor
from tests.e2e.test_dashboard import (  # noqa: F401  (fixtures: one browser and one reports dashboard for this module)
    CARD_STATUS,
    PageProbe,
    artifacts_dir,
    browser,
    dashboard,
    reports_dashboard,
)
from tests.unit.test_spanish import problems, rich_report
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(150)

# The text a reader sees: text nodes outside data (translate="no"), code, hidden parts, and the charts' numbers and
# dates; the charts' legends and axis titles are words, so they count.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const data = el.closest('[translate="no"], code, script, style, pre, [hidden], option');
    if (!node.textContent.trim() || data) continue;
    if (el.closest('svg') && !el.closest('.legend, .g-xtitle, .g-ytitle, .g-y2title')) continue;
    out.push(node.textContent.trim());
  }
  return out;
}"""


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[PageProbe]:  # noqa: F811
    """A fresh browser profile (no language cookie, no storage) and one tab in it."""
    context = await browser.new_context(viewport={"width": 1500, "height": 1000})
    page = await context.new_page()
    yield PageProbe(page)
    await context.close()


async def shot(probe: PageProbe, tmp_path_factory: pytest.TempPathFactory, name: str, capsys: Any,
               frame_height: int | None = None) -> Path:
    path = artifacts_dir(tmp_path_factory) / name
    await probe.page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    assert path.stat().st_size > 30_000
    return path


async def wait_live(probe: PageProbe, url: str, replicas: list[int]) -> None:
    page = probe.page
    await page.goto(url, timeout=60_000)
    for replica in replicas:
        await page.wait_for_function(CARD_STATUS, arg=[replica, "ON"], timeout=30_000)
    await page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .legendtext').length >= 10",
                                 timeout=15_000)
    await page.wait_for_function("() => document.querySelector('#quorum-rate') !== null", timeout=10_000)
    await page.wait_for_function("() => document.querySelectorAll('#services .svc').length === 7", timeout=10_000)


async def test_live_page_speaks_each_language_and_the_switch_is_remembered(
        settled: Supervisor, tab: PageProbe, tmp_path_factory: pytest.TempPathFactory, capsys: Any) -> None:
    """?lang=es renders the live page in Spanish (cards, panels, charts' legends, operator) with no English word;
    the English button reloads it in English, and the choice holds on the next visit without ?lang."""
    lab, page = settled, tab.page
    base = dashboard(lab)
    await wait_live(tab, base + "/?lang=es", lab.settings.replica_ids)
    assert await page.evaluate("document.documentElement.lang") == "es"
    assert await page.text_content("#cards dl dt:nth-of-type(3)") == "posición aplicada"
    await page.wait_for_function("() => document.querySelector('#conn').textContent === 'en vivo'", timeout=10_000)
    await page.wait_for_function("() => document.querySelectorAll('#cards .reason').length === 3", timeout=10_000)
    reasons = await page.eval_on_selector_all("#cards .reason", "els => els.map((e) => e.textContent)")
    assert reasons == ["sana y al día"] * 3, reasons  # the monitor's reason, said from its code
    events = await page.eval_on_selector_all("#events li", "els => els.map((e) => e.textContent)")
    assert any("sana y al día" in e for e in events), events
    texts = await page.evaluate(VISIBLE_TEXT)
    assert len(texts) > 80 and "Réplicas de inventario" in texts and "lecturas votadas" in texts
    assert not problems(texts, "es"), problems(texts, "es")
    await shot(tab, tmp_path_factory, "dashboard-es.png", capsys)

    async with page.expect_navigation(wait_until="load", timeout=30_000):  # the switch loads the page again
        await page.click("[data-set-lang=en]")
    await page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=15_000)
    await wait_live(tab, base + "/", lab.settings.replica_ids)  # no ?lang: the cookie decides
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert await page.text_content("nav a.here") == "Live"
    assert "healthy and caught up" in await page.text_content("#cards .reason")
    texts = await page.evaluate(VISIBLE_TEXT)
    assert not problems(texts, "en"), problems(texts, "en")
    await shot(tab, tmp_path_factory, "dashboard-en.png", capsys)
    async with page.expect_navigation(wait_until="load", timeout=30_000):
        await page.click("[data-set-lang=es]")
    await page.wait_for_function("() => document.documentElement.lang === 'es'", timeout=15_000)
    assert not tab.problems, tab.problems


@pytest.fixture(scope="module")
def spanish_run(reports_dashboard: tuple[str, Path]) -> tuple[str, str]:  # noqa: F811
    """A real report (three repetitions of every phase, from literal data, saying every kind of recorded sentence:
    misses, errors, what detected each fault) written as the newest run, its report.html rendered in Spanish."""
    url, runs = reports_dashboard
    run = write_run(rich_report(), [], runs, lang="es")
    return url, run.name


async def test_reports_page_shows_the_run_and_its_report_in_the_chosen_language(
        spanish_run: tuple[str, str], tab: PageProbe, tmp_path_factory: pytest.TempPathFactory, capsys: Any) -> None:
    """The reports page in English frames report.html in English (its charts drawn with English legends) although
    the file was rendered in Spanish; in Spanish both are Spanish, the guide's answers included."""
    url, name = spanish_run
    page = tab.page
    for lang, heading, answers in (("en", "The study guide's experiment", "Answers to the study guide"),
                                   ("es", "El experimento de la guía de estudio", "Respuestas a la guía de estudio")):
        await page.goto(f"{url}/reports?lang={lang}")
        await page.wait_for_function(f"() => document.querySelector('#run-name')?.textContent.startsWith('{name}')",
                                     timeout=10_000)
        await page.wait_for_function("() => document.querySelectorAll('#run-results tbody tr').length === 18",
                                     timeout=10_000)
        assert (await page.get_attribute("#run-frame", "src")).endswith(f"/report.html#lang={lang}")
        frame = page.frame_locator("#run-frame")
        shown = frame.locator(f"div.lang[data-lang={lang}]")
        await shown.locator("h1").wait_for(timeout=10_000)
        assert (await shown.locator("h1").text_content()).startswith(heading)
        assert await frame.locator(f"div.lang[data-lang={'es' if lang == 'en' else 'en'}]").is_hidden()
        await shown.locator(f"#ttdttr-{lang} .legendtext").first.wait_for(timeout=15_000)
        assert answers in await shown.locator(f"#guide-{lang}").text_content()
        page_texts = await page.evaluate(VISIBLE_TEXT)
        frame_texts = await page.frames[1].evaluate(VISIBLE_TEXT)
        assert len(frame_texts) > 300
        assert not problems(page_texts, lang), problems(page_texts, lang)
        assert not problems(frame_texts, lang), problems(frame_texts, lang)[:10]
        missed = await page.text_content("#run-results tbody")
        assert ("fallo no detectado (sin TTD)" if lang == "es" else "fault not detected (no TTD)") in missed
        await shot(tab, tmp_path_factory, f"reports-{lang}.png", capsys)
    assert not [p for p in tab.problems if "favicon" not in p], tab.problems


async def test_report_html_switches_language_by_itself_and_remembers(
        spanish_run: tuple[str, str], tab: PageProbe, tmp_path_factory: pytest.TempPathFactory, capsys: Any) -> None:
    """Opened on its own, report.html shows Spanish (the language it was rendered in); its English button shows the
    English view with its charts and keeps that choice on reload; the guide's scenario 2 reads the same figures
    in both languages."""
    url, name = spanish_run
    page = tab.page
    await page.goto(f"{url}/runs/{name}/report.html")
    await page.locator("#timeseries-es .legendtext").first.wait_for(timeout=15_000)
    assert await page.evaluate("document.documentElement.lang") == "es"
    spanish = await page.text_content("#guide-s2-es")
    await shot(tab, tmp_path_factory, "report-es.png", capsys)
    await page.click(".langs button[data-lang=en]")
    await page.locator("#timeseries-en .legendtext").first.wait_for(timeout=15_000)
    assert await page.is_hidden("div.lang[data-lang=es]")
    assert await page.evaluate("document.documentElement.lang") == "en"
    english = await page.text_content("#guide-s2-en")
    assert "Two instances fail" in english and "Fallo de dos instancias" in spanish
    assert re.findall(r"\d+", spanish.replace(".", "").replace(",", "")) == \
        re.findall(r"\d+", english.replace(".", "").replace(",", ""))  # the same figures, each language's separators
    legends = await page.eval_on_selector_all("#timeseries-en .legendtext", "els => els.map((e) => e.textContent)")
    assert "latency p95 (ms)" in legends and not leftovers(legends, "en")
    texts = await page.evaluate(VISIBLE_TEXT)
    assert not problems(texts, "en"), problems(texts, "en")[:10]
    await page.reload()
    await page.locator("#timeseries-en .legendtext").first.wait_for(timeout=15_000)
    assert await page.evaluate("document.documentElement.lang") == "en"
    await shot(tab, tmp_path_factory, "report-en.png", capsys)
    assert not tab.problems, tab.problems
