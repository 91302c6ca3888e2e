"""The demo's presentation page (/demo) in headless Chromium while `faultlab demo` runs, shortened, on the real lab:
large cards, the step under way said with the run's figures, the finished step's timeline steppable by keyboard, in
Spanish and in English, with no console error."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright import async_api as playwright_api

from faultlab.runtime.supervisor import Supervisor
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS, PageProbe
from tests.untranslated import leftovers, visible_texts

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def probe() -> AsyncIterator[PageProbe]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1600, "height": 1000})).new_page()
        yield PageProbe(page)
        await browser.close()


async def api_demo(url: str, lang: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/api/demo?lang={lang}") as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def test_the_presentation_page_follows_the_demo_in_both_languages(settled: Supervisor, probe: PageProbe,
                                                                        tmp_path: Path) -> None:
    """While the demo runs the page says its steps in Spanish with their figures and draws the finished step's
    timeline; at the end both languages show the same steps as /api/demo, the cards are the presentation's size,
    the timeline steps with the arrow keys, and nothing was logged as an error."""
    lab, page = settled, probe.page
    url = lab.settings.service_url("dashboard")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "--home", str(lab.home), "--lang", "es", "demo", "--hold-s", "1.5",
        "--settle-s", "0.5", "--rate", "20", "--runs-dir", str(tmp_path / "runs"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await page.goto(f"{url}/demo?lang=es", timeout=60_000)
        await page.wait_for_function("() => document.querySelectorAll('#demo-cards .card').length === 3",
                                     timeout=30_000)
        await page.wait_for_function(
            "() => /OFF tras \\d+ ms/.test(document.querySelector('#demo-sentence').textContent)", timeout=120_000)
        await page.wait_for_function("() => document.querySelector('#demo-timeline .tl-episode') !== null",
                                     timeout=120_000)
        out, _ = await asyncio.wait_for(proc.communicate(), 200)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode in (0, 1), out.decode()[-3000:]
    await page.wait_for_function(
        "() => document.querySelector('#demo-progress').textContent === 'demostración terminada'", timeout=10_000)
    for lang, latency in (("es", "La réplica 2 ahora responde 1200 ms tarde"),
                          ("en", "Replica 2 now answers 1200 ms late")):
        if lang == "en":
            await page.goto(f"{url}/demo?lang=en", timeout=60_000)
            await page.wait_for_function("() => document.querySelectorAll('#demo-steps li').length === 4",
                                         timeout=10_000)
            await page.wait_for_function("() => document.querySelector('#demo-timeline .tl-episode') !== null",
                                         timeout=10_000)
        shown = await page.eval_on_selector_all("#demo-steps li", "els => els.map(e => e.textContent)")
        answer = await api_demo(url, lang)
        assert shown == [s["sentence"] for s in answer["demo"]["steps"]], shown
        assert shown[1].startswith(latency) and all(" ms" in s for s in shown), shown
        assert await page.eval_on_selector("html", "e => e.lang") == lang
        assert not leftovers(visible_texts(await page.content()), lang), leftovers(
            visible_texts(await page.content()), lang)
        badge_px = await page.eval_on_selector("#demo-cards .badge", "e => parseFloat(getComputedStyle(e).fontSize)")
        sentence_px = await page.eval_on_selector("#demo-sentence", "e => parseFloat(getComputedStyle(e).fontSize)")
        assert badge_px >= 28 and sentence_px >= 28, (badge_px, sentence_px)
        await page.wait_for_selector("#demo-report a", timeout=10_000)  # once the report is written
        shots = Path(os.environ.get("FAULTLAB_E2E_ARTIFACTS") or tmp_path)  # what the projector shows, to look at
        shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shots / f"demo-{lang}.png"), full_page=True)
        report = await page.eval_on_selector("#demo-report a", "a => a.getAttribute('href')")
        assert report.startswith("/runs/") and report.endswith("/report.html")
    # the finished step's timeline: Tab-reachable, the arrow keys step through its events and say each one
    await page.focus("#demo-timeline .tl-episode")
    await page.keyboard.press("ArrowRight")
    said = await page.eval_on_selector("#demo-timeline .tl-live", "e => e.textContent.trim()")
    assert said, "the step is said in the aria-live line"
    assert not probe.problems, probe.problems
