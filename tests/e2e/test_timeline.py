"""The episode timeline in headless Chromium on literal episodes, in both languages, both ways a page takes it (modules
served as the dashboard serves them; inlined as report.html inlines its scripts): no console error, Tab reaches each
episode, the arrow keys, Home and End step through its events and the step is said in its aria-live line and
highlighted, the pointer shows the same text, and lanes not recorded are marked in the page's language."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from faultlab.core.config import Settings
from faultlab.lab.timeline import build_timeline
from tests.e2e.test_dashboard import PageProbe, browser  # noqa: F401  (fixture: one browser for this module)
from tests.e2e.test_i18n_pages import VISIBLE_TEXT
from tests.e2e.timeline_page import FORMS, page_html, timeline_server
from tests.unit.test_timeline import crash_timeline
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(120)

EPISODE = json.loads((Path(__file__).resolve().parents[1] / "data" / "timeline" / "latency.json").read_text())
T0 = EPISODE["fault"]["activated_at"]
# An episode of a run that recorded only its episodes (report.json): four lanes not recorded.
BARE = build_timeline({"replica": 3, "fault_kind": "intermittent", "fault": {"params": {"error_rate": 0.3}},
                       "activated_at": T0 + 30, "detected_at": T0 + 30.3, "cleared_at": T0 + 35,
                       "recovered_at": T0 + 35.2, "ttd_ms": 300.0, "ttr_ms": 200.0}, Settings())
SAID = {  # the latency episode's first, second, monitor OFF and last steps (tests/js/lab/timeline.test.js: the rest)
    "en": ["−1.000 s: health check ok in 2.0 ms",
           "−920.0 ms: voter, during these 50.0 ms: reads answered with this replica: 2",
           "+320.0 ms: the monitor marks replica 2 OFF: timeout (error-rate detector)",
           "+2.180 s: voter, during these 50.0 ms: reads answered with this replica: 5"],
    "es": ["−1,000 s: health check ok en 2,0 ms",
           "−920,0 ms: votador, durante estos 50,0 ms: lecturas respondidas con esta réplica: 2",
           "+320,0 ms: el monitor marca la réplica 2 OFF: timeout (detector error-rate)",
           "+2,180 s: votador, durante estos 50,0 ms: lecturas respondidas con esta réplica: 5"],
}
NOT_RECORDED = {"en": "not recorded", "es": "no registrado"}
MONITOR_OFF = 19  # its index among the 37 steps


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    """The latency episode, a crash and an episode recorded bare on four pages: each form in each language."""
    episodes = [EPISODE, crash_timeline(), BARE]
    pages = {f"/{form}/{lang}": (form, page_html(episodes, lang, form)) for form in FORMS for lang in SAID}
    async with timeline_server(pages) as url:
        yield url


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[PageProbe]:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    yield PageProbe(page)
    await context.close()


async def live_text(page: Any, figure: str) -> str:
    return (await page.text_content(f"#{figure} .tl-live") or "").strip()


async def press(page: Any, key: str, figure: str, expected: str) -> None:
    """Press `key` and wait until the episode's live line says `expected`."""
    await page.keyboard.press(key)
    await page.wait_for_function("([f, t]) => document.querySelector(`#${f} .tl-live`).textContent === t",
                                 arg=[figure, expected], timeout=5_000)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("lang", ["es", "en"])
async def test_the_timeline_steps_through_an_episode_by_keyboard_and_pointer(server: str, tab: PageProbe, form: str,
                                                                            lang: str) -> None:
    """Tab focuses the first episode, → says its first event, → the next, End the last, Home the first again; the
    step is highlighted (the ring and cursor shown, the figure's step noted); hovering the monitor's OFF shows the
    text said for it; Tab then reaches the next episodes, the last one's four lanes not recorded marked; no console
    error, and no word of the other language on the page."""
    page, said = tab.page, SAID[lang]
    await page.goto(f"{server}/{form}/{lang}")
    await page.wait_for_function("() => document.body.dataset.ready === 'yes'", timeout=15_000)
    figures = await page.eval_on_selector_all("figure.tl-episode", "els => els.map((e) => e.id)")
    assert len(figures) == 3
    first, crash, second = figures
    assert await page.get_attribute(f"#{first}", "data-steps") == "37"

    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == first
    assert await live_text(page, first) == ""
    await press(page, "ArrowRight", first, said[0])
    await press(page, "ArrowRight", first, said[1])
    assert await page.get_attribute(f"#{first}", "data-step") == "1"
    assert await page.get_attribute(f"#{first} .tl-ring", "visibility") == "visible"
    await press(page, "End", first, said[3])
    await press(page, "ArrowRight", first, said[3])  # the last stays the last
    await press(page, "Home", first, said[0])
    assert await page.get_attribute(f"#{first}", "data-step") == "0"
    for _ in range(MONITOR_OFF):
        await page.keyboard.press("ArrowRight")
    await page.wait_for_function("([f, t]) => document.querySelector(`#${f} .tl-live`).textContent === t",
                                 arg=[first, said[2]], timeout=5_000)

    ring = await page.eval_on_selector(f"#{first} .tl-ring", "c => { const b = c.getBoundingClientRect(); "
                                                              "return [b.x + b.width / 2, b.y + b.height / 2]; }")
    await page.mouse.move(ring[0] + 1, ring[1])
    await page.wait_for_selector(f"#{first} .tl-tip:not([hidden])", timeout=5_000)
    assert await page.text_content(f"#{first} .tl-tip") == said[2]
    await page.mouse.move(5, 5)
    await page.wait_for_selector(f"#{first} .tl-tip[hidden]", state="attached", timeout=5_000)

    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == crash
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == second
    marks = await page.eval_on_selector_all(f"#{second} .tl-not-recorded-label", "els => els.map((e) => e.textContent)")
    assert marks == [NOT_RECORDED[lang]] * 4
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function("(f) => document.querySelector(`#${f} .tl-live`).textContent.length > 0",
                                 arg=second, timeout=5_000)
    assert "intermittent" in await live_text(page, second)

    texts = await page.evaluate(VISIBLE_TEXT)
    assert len(texts) > 10 and not leftovers(texts, lang), leftovers(texts, lang)
    labels = await page.eval_on_selector_all(f"#{first} svg .tl-label, #{first} svg .tl-sublabel",
                                             "els => els.map((e) => e.textContent)")
    assert ("fallos en la ventana" in labels) == (lang == "es") and ("recuperación" in labels) == (lang == "es")
    assert not tab.problems, tab.problems
