"""One background task of a long-lived part (the outbox relay, the results consumer, the pending reconciler, the
metrics flusher, the monitor reporter): started once, stopped by cancelling it and waiting for it to end.

Each of those parts used to write the same start/stop around its own `_run()` loop; `Background` is that code once.
`stop()` is safe to call twice and before `start()`, and never raises what the task failed with: a part's own
`stop()` goes on to close its connections or flush what it holds. A part with a list of tasks (a replica, the health
monitor, the dashboard's collector, the demo) stops them with `cancel_all`, on the same terms.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from typing import Any


class Background:
    """A named background task: `start(coroutine)`, `stop()` (cancel, then wait for it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[Any] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` as the task; a RuntimeError (and `work` closed, never run) while one is already started."""
        if self._task is not None:
            work.close()
            raise RuntimeError(f"{self.name} is already started")
        self._task = asyncio.create_task(work, name=self.name)

    async def stop(self) -> BaseException | None:
        """Cancel the task and wait until it ended; the error it had failed with, if any (not raised)."""
        task, self._task = self._task, None
        if task is None:
            return None
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return None
        except Exception as exc:  # the loop had died of it before the stop: reported, not raised
            return exc
        return None


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task, then wait until each has ended; what a task failed with is not raised."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
