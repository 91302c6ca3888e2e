"""The replica's watch on its own event loop: how long the machine lately did not run it (a stall), for `/health`."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class LoopWatch:
    """How long this process's event loop went without running lately: a replica the machine did not run (a loaded
    host, a CPU hog) took nothing in for that long without being stopped. A tick every `interval_s` while the replica
    has work (`busy()`: the log flowing, a batch in hand), every `quiet_interval_s` on a quiet loop; a stall is how
    much later than it was due a tick came, or how long the next tick is overdue.

    On a quiet loop a stall shorter than the slow tick can go unseen: there it changes no verdict (the replica lacks
    no event, and one it waits on a fetch for shows progress); the first records after it bring the fast tick back
    at once (`wake()`)."""

    def __init__(self, interval_s: float = 0.05, keep_s: float = 1.0, quiet_interval_s: float = 1.0,
                 busy: Callable[[], bool] | None = None) -> None:
        self.interval_s = interval_s
        self.quiet_interval_s = max(quiet_interval_s, interval_s)
        self.keep_s = keep_s
        self.busy = busy or (lambda: True)
        self.due = time.monotonic() + interval_s  # when the next tick should run
        self.stalls: deque[tuple[float, float]] = deque(maxlen=256)  # (when noticed, how long), the recent ones
        self._rearm: Callable[[], None] | None = None  # while running: schedule the next tick at `due` again

    def tick(self, now: float) -> None:
        """A tick ran at `now` (monotonic): remember how late it was, and when the next one is due."""
        late = now - self.due
        if late > 0.01:
            self.stalls.append((now, late))
        self.due = now + (self.interval_s if self.busy() else self.quiet_interval_s)

    def wake(self, now: float | None = None) -> None:
        """The replica has work again: the next tick comes within `interval_s` (a slow tick that was not yet due is
        moved forward; one overdue already is left to fire and tell how late it is)."""
        now = time.monotonic() if now is None else now
        if self.due - now > self.interval_s:
            self.due = now + self.interval_s
            if self._rearm is not None:
                self._rearm()

    async def run(self) -> None:
        """Tick until cancelled, from a timer callback: no task step and no new future per tick."""
        loop = asyncio.get_running_loop()
        # Loop time and time.monotonic() are the same clock (asyncio's loop.time() is time.monotonic()).
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            nonlocal handle
            self.tick(time.monotonic())
            handle = loop.call_at(self.due, fire)

        def rearm() -> None:
            nonlocal handle
            if handle is not None:
                handle.cancel()
            handle = loop.call_at(self.due, fire)

        self.due = time.monotonic() + self.interval_s
        handle = loop.call_at(self.due, fire)
        self._rearm = rearm
        try:
            await loop.create_future()  # never set: the ticks run until this is cancelled
        finally:
            self._rearm = None
            handle.cancel()

    def stall_s(self, now: float | None = None) -> float:
        """The longest stall over the last `keep_s`, the one still going on (the next tick overdue) included."""
        now = time.monotonic() if now is None else now
        ongoing = max(0.0, now - self.due)
        return max([ongoing] + [late for at, late in self.stalls if at >= now - self.keep_s])
