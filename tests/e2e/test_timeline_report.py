"""report.html's episode timelines in headless Chromium: every phase run's episodes drawn in both languages, the one
recorded in events.jsonl with all its lanes, the others from report.json alone with their lanes marked not recorded;
the keyboard steps through them and the step is said; no console error, no word of the other language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from faultlab.core.config import Settings
from faultlab.lab.report import build_report
from faultlab.lab.report_html import render_html
from faultlab.lab.timeline import replay
from tests.e2e.test_dashboard import PageProbe, browser  # noqa: F401  (fixture: one browser for this module)
from tests.e2e.test_i18n_pages import VISIBLE_TEXT
from tests.e2e.timeline_page import timeline_server
from tests.unit.test_report import experiment_data, full_results
from tests.unit.test_timeline import T0, latency_history
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(120)

# The latency episode's monitor OFF, as its step says it in each language (tests/e2e/test_timeline.py: the same).
OFF_SAID = {"en": "+320.0 ms: the monitor marks replica 2 OFF: timeout (error-rate detector)",
            "es": "+320,0 ms: el monitor marca la réplica 2 OFF: timeout (detector error-rate)"}
NOT_RECORDED = {"en": "not recorded", "es": "no registrado"}


def recorded_report_html(lang: str) -> str:
    """A report of every phase once; its latency run's episode is the literal latency history's, whose observations
    the run's events hold (as events.jsonl holds them)."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    results = full_results(1)
    latency = next(r for r in results if r["phase"] == "latency")
    latency.update(injected_at=T0 - 0.02, episodes=[episode])
    data = experiment_data(results)
    data["events"] = [{"type": "observation", **e} for e in entries]
    report = build_report(data, {"replicas": 3}, "timelines", settings=Settings())
    return render_html(report, lang)


def older_report_html(lang: str) -> str:
    """A report as a run from before the timelines wrote it: its episodes, no timelines, no observations."""
    report = build_report(experiment_data(full_results(1)), {"replicas": 3}, "older")
    assert report.timelines is None
    return render_html(report, lang)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    """report.html rendered in each language, served with the self-contained pages' CSP."""
    pages = {f"/{lang}": ("inlined", recorded_report_html(lang)) for lang in ("es", "en")}
    pages.update({f"/older/{lang}": ("inlined", older_report_html(lang)) for lang in ("es", "en")})
    async with timeline_server(pages) as url:
        yield url


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[PageProbe]:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    yield PageProbe(page)
    await context.close()


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_report_html_draws_every_episode_and_steps_through_them(server: str, tab: PageProbe, lang: str) -> None:
    """Five phase runs with an episode, each drawn under its own heading; the latency episode has every lane
    recorded and its monitor OFF is said when the keyboard reaches it; no console error (the page's CSP included) and
    no word of the other language."""
    page = tab.page
    await page.goto(f"{server}/{lang}")
    await page.wait_for_function(f"() => document.querySelectorAll('#episode-timelines-{lang} ~ .timelines "
                                 "figure.tl-episode').length === 5", timeout=15_000)
    latency = await page.get_attribute(f"div.lang[data-lang={lang}] figure.tl-episode[data-kind=latency]", "id")
    assert latency is not None
    assert not await page.eval_on_selector_all(f"#{latency} .tl-not-recorded-label", "els => els.length")

    await page.focus(f"#{latency}")
    steps = int(await page.get_attribute(f"#{latency}", "data-steps") or 0)
    said = []
    for _ in range(steps):
        await page.keyboard.press("ArrowRight")
        said.append(await page.text_content(f"#{latency} .tl-live"))
    assert OFF_SAID[lang] in said
    assert await page.get_attribute(f"#{latency}", "data-step") == str(steps - 1)

    texts = await page.evaluate(VISIBLE_TEXT)
    assert not leftovers(texts, lang), leftovers(texts, lang)[:10]
    assert not tab.problems, tab.problems


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_an_older_reports_episodes_are_drawn_with_what_it_recorded(server: str, tab: PageProbe,
                                                                        lang: str) -> None:
    """A report without timelines (an older run) still draws its five episodes from report.json, four lanes of each
    marked not recorded in the page's language; no console error."""
    page = tab.page
    await page.goto(f"{server}/older/{lang}")
    selector = f"div.lang[data-lang={lang}] figure.tl-episode"
    await page.wait_for_function(f"() => document.querySelectorAll('{selector}').length === 5", timeout=15_000)
    marks = await page.eval_on_selector_all(f"{selector} .tl-not-recorded-label", "els => els.map((e) => e.textContent)")
    assert marks == [NOT_RECORDED[lang]] * 20
    assert not tab.problems, tab.problems
