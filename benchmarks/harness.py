"""What every benchmark that starts a lab shares: the lab's settings on free ports of its own, and a main that runs
until done, Ctrl-C or SIGTERM.

`lab_settings` is here, not in the test suite, so that benchmarks never import tests; the tests' labs use it too
(tests may import benchmarks: tests/unit/test_benchmark_harness.py tests this module).

SIGTERM is handled as Ctrl-C: the main task is cancelled, so the `async with Supervisor(...)` (or `finally: lab.stop()`)
around the measurement stops every process the benchmark started — a `kill` or a job runner's timeout leaves
nothing behind. Exit code 130 when interrupted, the main's own otherwise.
"""

from __future__ import annotations

import asyncio
import random
import signal
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from faultlab.core.config import Settings

PORT_NAMES = ("orders_port", "monitor_port", "voter_port", "dashboard_port", "broker_port", "postgres_port",
              "supervisor_port")


def free_port() -> int:
    """A free loopback port, as the kernel hands one out (for a process started at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_block(size: int) -> int:
    """A base port with `size` consecutive free ports after it."""
    for _ in range(200):
        base = random.randint(20000, 32000 - size)  # below Linux's ephemeral ports (32768-60999)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports between 20000 and 32000")


def lab_settings(home: Path, **overrides: object) -> Settings:
    """Settings for a lab of a test or a benchmark: its own folder, its own free ports, loopback only."""
    base = free_block(16)
    ports = {name: base + i for i, name in enumerate(PORT_NAMES)}
    return Settings(home=home, inventory_base_port=base + 10, **ports, **overrides)  # type: ignore[arg-type]


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
