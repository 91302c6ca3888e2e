"""What every benchmark that starts a lab shares: its main runs until done, Ctrl-C or SIGTERM.

SIGTERM is handled as Ctrl-C: the main task is cancelled, so the `async with Supervisor(...)` (or `finally: lab.stop()`)
around the measurement stops every process the benchmark started — a `kill` or a job runner's timeout leaves
nothing behind. Exit code 130 when interrupted, the main's own otherwise.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run(main: Coroutine[Any, Any, Any]) -> int:
    """asyncio.run(main), SIGTERM cancelling it as Ctrl-C does; the exit code (130 after either, 0 for a None
    result)."""
    try:
        result = asyncio.run(_cancelled_by_sigterm(main))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    return int(result or 0)


async def _cancelled_by_sigterm(main: Coroutine[Any, Any, Any]) -> Any:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)  # wakes the loop at once, unlike a signal.signal handler
    try:
        return await main
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
