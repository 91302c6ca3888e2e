"""Background (core/background.py): the one start/stop of a part's background task — started once, cancelled and
awaited by stop(), stop() safe twice and before start, a task's own failure returned by stop() and never raised;
and cancel_all, the stop of a list of tasks on the same terms."""

from __future__ import annotations

import asyncio

import pytest

from faultlab.core.background import Background, cancel_all


async def test_stop_cancels_the_running_task_and_waits_for_its_cleanup() -> None:
    """stop() cancels the task and returns only after the task's own cleanup ran; the task carries its name."""
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # cleanup that awaits: stop() must wait for it
            cleaned.set()

    background = Background("relay")
    background.start(work())
    await asyncio.wait_for(started.wait(), 5)
    assert background.running and any(t.get_name() == "relay" for t in asyncio.all_tasks())
    assert await background.stop() is None
    assert cleaned.is_set() and not background.running


async def test_stop_is_safe_before_start_and_twice_and_a_stopped_part_starts_again() -> None:
    """stop() before start() and a second stop() do nothing; after a stop the part can start again."""
    background = Background("flusher")
    assert await background.stop() is None
    runs = []

    async def work() -> None:
        runs.append(1)
        await asyncio.sleep(3600)

    for _ in range(2):
        background.start(work())
        await asyncio.sleep(0)
        assert await background.stop() is None
        assert await background.stop() is None
    assert runs == [1, 1]


async def test_a_second_start_is_refused_and_its_work_never_runs() -> None:
    """start() while started is a RuntimeError naming the task; the refused coroutine is closed, never run."""
    ran = []

    async def work(n: int) -> None:
        ran.append(n)
        await asyncio.sleep(3600)

    background = Background("results-consumer")
    background.start(work(1))
    refused = work(2)
    with pytest.raises(RuntimeError, match="results-consumer is already started"):
        background.start(refused)
    assert refused.cr_frame is None  # closed
    await asyncio.sleep(0)
    await background.stop()
    assert ran == [1]


async def test_a_task_that_failed_is_reported_by_stop_not_raised() -> None:
    """A loop that died of an error before the stop: stop() returns that error (the part goes on closing its
    connections) instead of raising it."""

    async def work() -> None:
        raise ValueError("broken loop")

    background = Background("reporter")
    background.start(work())
    await asyncio.sleep(0.01)
    assert not background.running
    error = await background.stop()
    assert isinstance(error, ValueError) and str(error) == "broken loop"
    assert await background.stop() is None


async def test_cancel_all_stops_every_task_and_waits_for_each_cleanup() -> None:
    """cancel_all cancels running tasks and returns only after each one's cleanup ran; a task that had already died
    of an error, or had finished, is waited for without raising; an empty list is nothing to do."""
    cleaned: list[str] = []

    async def loop(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # cleanup that awaits: cancel_all must wait for it
            cleaned.append(name)

    async def broken() -> None:
        raise ValueError("broken loop")

    async def done() -> int:
        return 1

    tasks = [asyncio.create_task(loop("probe-1")), asyncio.create_task(broken()), asyncio.create_task(done()),
             asyncio.create_task(loop("persist"))]
    await asyncio.sleep(0.01)
    await cancel_all(iter(tasks))  # any iterable: it is read once
    assert sorted(cleaned) == ["persist", "probe-1"] and all(t.done() for t in tasks)
    assert tasks[0].cancelled() and isinstance(tasks[1].exception(), ValueError) and tasks[2].result() == 1
    await cancel_all([])
