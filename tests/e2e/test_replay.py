"""`faultlab replay`'s page in headless Chromium on a stored run: played at 20x it ends with the report's TTD and TTR
of every episode on screen and every episode's timeline drawn; stepped by keyboard; paused; in Spanish and English
with no console error; an older run (no events recorded) says what it lacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from faultlab.core.config import Settings
from faultlab.lab.dashboard.replay import ReplayServer
from faultlab.lab.report import build_report, load_report, write_run
from faultlab.lab.timeline import replay
from tests.e2e.test_dashboard import PageProbe, browser  # noqa: F401  (fixture: one browser for this module)
from tests.e2e.test_i18n_pages import VISIBLE_TEXT
from tests.unit.test_report import experiment_data, full_results
from tests.unit.test_timeline import T0, latency_history
from tests.untranslated import leftovers

pytestmark = pytest.mark.timeout(120)

EPISODE_TTD_MS = replay(latency_history(), 2, Settings()).episodes[0]["ttd_ms"]  # the latency episode's TTD


def stored_run(runs: Path, recorded: bool) -> Path:
    """A run folder as `faultlab experiment` writes it: every phase once; recorded, its latency episode's monitor
    state events and observations are in events.jsonl; not recorded, events.jsonl is empty (a run from before the timelines)."""
    entries = latency_history()
    replayed = replay(entries, 2, Settings())
    [episode] = replayed.episodes
    results = full_results(1)
    latency = next(r for r in results if r["phase"] == "latency")
    latency.update(injected_at=T0 - 0.02, episodes=[episode])
    data = experiment_data(results)
    data["ended_at"] = T0 + 200  # the literal phases run until T0 + 155 s
    events = replayed.states + [{"type": "observation", **e} for e in entries] if recorded else []
    data["events"] = events
    report = build_report(data, {"replicas": 3}, "replay", settings=Settings() if recorded else None)
    return write_run(report, events, runs)


@pytest.fixture(scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, tuple[str, Path]]]:
    """`faultlab replay`'s server on a recorded run and on an older one: name -> (base URL, run folder)."""
    runs = tmp_path_factory.mktemp("replay")
    out, runners = {}, []
    for name, recorded in (("recorded", True), ("older", False)):
        run_dir = stored_run(runs / name, recorded)
        runner = web.AppRunner(ReplayServer(run_dir, "es").app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        out[name] = (f"http://127.0.0.1:{runner.addresses[0][1]}", run_dir)
    yield out
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[PageProbe]:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    yield PageProbe(page)
    await context.close()


async def column(page: Any, index: int) -> list[str]:
    return list(await page.eval_on_selector_all(
        "#failures tbody tr", f"rows => rows.map((r) => r.children[{index}].textContent)"))


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_a_stored_run_played_at_20x_ends_with_its_reports_ttd_and_ttr(
        servers: dict[str, tuple[str, Path]], tab: PageProbe, lang: str) -> None:
    """The page opens paused at the run's start (the latency episode active, not detected yet); Enter on the step
    button moves to the next recorded moment, its detection (its TTD shown); at 20x played to the end, the failures table shows every episode with the TTD and TTR of
    report.json (in the page's number format) and each episode's timeline, whose keyboard steps are said; no console
    error, no word of the other language."""
    url, run_dir = servers["recorded"]
    page = tab.page
    await page.goto(f"{url}/?lang={lang}")
    await page.wait_for_function("() => document.body.dataset.ready === 'yes'", timeout=15_000)
    assert await page.get_attribute("#replay-state", "data-state") == "paused"
    assert await column(page, 1) == ["latency"] and await column(page, 5) == ["—"]
    assert await page.is_hidden("#replay-recorded")

    await page.focus("#replay-step")
    await page.keyboard.press("Enter")
    await page.wait_for_function("() => document.querySelector('#failures tbody tr').children[5].textContent !== '—'",
                                 timeout=5_000)
    assert await column(page, 5) == [await page.evaluate(
        "([v, lang]) => new Intl.NumberFormat(lang, {minimumFractionDigits: 1, maximumFractionDigits: 1, "
        "useGrouping: 'always'}).format(v)", [EPISODE_TTD_MS, lang])]
    await page.select_option("#replay-speed", "20")
    await page.click("#replay-play")
    await page.wait_for_function("() => document.querySelector('#replay-state').dataset.state === 'ended'",
                                 timeout=30_000)

    report = load_report(run_dir / "report.json")
    episodes = sorted((e for r in report.results for e in r.episodes or []), key=lambda e: e.activated_at or 0)
    expected = await page.evaluate(
        "([lists, lang]) => lists.map((values) => values.map((v) => v === null ? '—' : new Intl.NumberFormat(lang, "
        "{minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: 'always'}).format(v)))",
        [[[e.ttd_ms for e in episodes][::-1], [e.ttr_ms for e in episodes][::-1]], lang])
    assert await column(page, 5) == expected[0]  # the newest first, as the live table lists them
    assert await column(page, 8) == expected[1]
    figures = await page.eval_on_selector_all("#timelines figure.tl-episode", "els => els.map((e) => e.id)")
    assert len(figures) == len(episodes) == 5
    latency = await page.get_attribute("#timelines figure.tl-episode[data-kind=latency]", "id")
    await page.focus(f"#{latency}")
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function("(f) => document.querySelector(`#${f} .tl-live`).textContent.length > 0",
                                 arg=latency, timeout=5_000)
    texts = await page.evaluate(VISIBLE_TEXT)
    assert not leftovers(texts, lang), leftovers(texts, lang)[:10]
    assert not tab.problems, tab.problems


async def test_an_older_run_replays_with_what_it_has(servers: dict[str, tuple[str, Path]], tab: PageProbe) -> None:
    """A run without state events or observations plays its episodes (the cards OFF from detection to recovery), says
    what it did not record, and its timelines mark those lanes; play then pause stops the clock."""
    url, _run_dir = servers["older"]
    page = tab.page
    await page.goto(f"{url}/?lang=en")
    await page.wait_for_function("() => document.body.dataset.ready === 'yes'", timeout=15_000)
    said = await page.text_content("#replay-recorded")
    assert said is not None and "did not record the monitor's observations" in said and "state changes" in said
    await page.click("#replay-play")
    await page.wait_for_function("() => document.querySelector('#replay-state').dataset.state === 'playing'",
                                 timeout=5_000)
    await page.click("#replay-play")
    paused_at = await page.evaluate("window.faultlabReplay.clock.at")
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.faultlabReplay.clock.at") == paused_at
    await page.select_option("#replay-speed", "20")
    await page.click("#replay-play")
    await page.wait_for_function("() => document.querySelector('#replay-state').dataset.state === 'ended'",
                                 timeout=30_000)
    marks = await page.eval_on_selector_all("#timelines .tl-not-recorded-label", "els => els.length")
    assert marks == 20
    assert not tab.problems, tab.problems
