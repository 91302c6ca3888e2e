"""The live dashboard's episode timelines in headless Chromium against the real lab: a latency fault injected on a
replica appears as its episode while it is open, is drawn again once it recovered (TTD and TTR as on the failures
table), steps by keyboard with the step said, in Spanish and in English, with no console error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.e2e.test_dashboard import (  # noqa: F401  (fixture: one browser for this module)
    CARD_STATUS,
    PageProbe,
    browser,
    dashboard,
    open_live_page,
)
from tests.e2e.test_i18n_pages import VISIBLE_TEXT
from tests.helpers import auth, inject
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(150)

EPISODE = "#timelines figure.tl-episode[data-replica='3'][data-kind='latency']"


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[PageProbe]:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    yield PageProbe(page)
    await context.close()


async def test_a_live_episode_is_drawn_while_open_and_after_recovery(settled: Supervisor, tab: PageProbe) -> None:
    """Latency on replica 3: its timeline shows up while the episode is open (no TTR yet), is drawn again with TTR
    once it recovered; Tab-focus and → say its first step; the page in English shows the same episode in English;
    no word of the other language, no console error."""
    lab, page = settled, tab.page
    url = dashboard(lab)
    await open_live_page(tab, url, lab.settings.replica_ids)
    await page.goto(url + "/?lang=es")
    await page.wait_for_function(CARD_STATUS, arg=[3, "ON"], timeout=30_000)
    async with aiohttp.ClientSession() as session:
        await inject(session, lab, 3, kind="latency", latency_ms=1200)
        await page.wait_for_selector(EPISODE, timeout=30_000)
        async with session.delete(f"{lab.settings.replica_url(3)}/faults", headers=auth(lab)) as resp:
            assert resp.status == 200, await resp.text()
    await page.wait_for_function("""() => { const e = window.faultlabDashboard.episodes.filter((x) => x.replica === 3);
        return e.length && e[e.length - 1].ttr_ms !== null; }""", timeout=45_000)
    await page.wait_for_function(f"() => [...document.querySelectorAll(\"{EPISODE} svg text\")]"
                                 ".some((t) => t.textContent.startsWith('TTR'))", timeout=15_000)
    episode = (await page.evaluate("() => window.faultlabDashboard.episodes.filter((x) => x.replica === 3).pop()"))
    labels = await page.eval_on_selector_all(f"{EPISODE} svg text", "els => els.map((e) => e.textContent)")
    ttd = await page.evaluate("(v) => new Intl.NumberFormat('es', {minimumFractionDigits: 1, maximumFractionDigits: 1,"
                              " useGrouping: 'always'}).format(v)", episode["ttd_ms"])
    assert any(label.startswith("TTD") and ttd in label for label in labels), (ttd, labels)

    figure = await page.get_attribute(EPISODE, "id")
    await page.focus(f"#{figure}")
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function("(f) => document.querySelector(`#${f} .tl-live`).textContent.length > 0",
                                 arg=figure, timeout=5_000)
    texts = await page.evaluate(VISIBLE_TEXT)
    assert not leftovers(texts, "es"), leftovers(texts, "es")[:10]

    await page.goto(url + "/?lang=en")
    await page.wait_for_selector(EPISODE, timeout=30_000)
    labels = await page.eval_on_selector_all(f"{EPISODE} svg .tl-label", "els => els.map((e) => e.textContent)")
    assert "recovery" in labels and "recuperación" not in labels
    texts = await page.evaluate(VISIBLE_TEXT)
    assert not leftovers(texts, "en"), leftovers(texts, "en")[:10]
    assert not tab.problems, tab.problems
