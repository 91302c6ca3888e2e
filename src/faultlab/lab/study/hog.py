"""A bounded CPU hog for the study's noisy stretch: busy processes that stall the lab for real, and always stop.

Each hog is a child Python process that spins for `burst_ms` out of every `period_ms` (all of them in step, so
every core is taken at once) until its own deadline — it ends by itself even if the study is killed with -9 —
and `stop()` kills what is left. A hog at normal priority barely delays a lab whose processes mostly sleep (the
scheduler favours a waking sleeper), so by default it runs at a higher priority (nice -10, when allowed): the
lab then waits for real, in bursts, like a host with a noisy neighbour, while the rest of the machine gets most
of each period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

SPIN = """import os, sys, time
deadline, burst, period, start = (float(a) for a in sys.argv[1:5])
try:
    os.setpriority(os.PRIO_PROCESS, 0, int(sys.argv[5]))
except OSError:  # not allowed (not root): normal priority
    pass
while time.time() < deadline:
    begin = start + ((time.time() - start) // period) * period
    while time.time() < begin + burst:
        pass
    time.sleep(max(0.0, begin + period - time.time()))
"""


class CpuHog:
    """`procs` busy processes for at most `duration_s`: start(), then stop() (safe to call twice)."""

    def __init__(self, procs: int, duration_s: float, nice: int = 0, burst_ms: float = 1000.0,
                 period_ms: float = 1000.0) -> None:
        if procs < 0 or not 0 < burst_ms <= period_ms:
            raise ValueError("procs must not be negative, and 0 < burst_ms <= period_ms")
        self.procs = procs
        self.duration_s = duration_s
        self.nice = nice
        self.burst_ms = burst_ms
        self.period_ms = period_ms
        self.effective_nice: int | None = None
        self.children: list[subprocess.Popen[bytes]] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        self.started_at = time.time()
        deadline = self.started_at + self.duration_s + 1.0  # a margin: stop() is the normal end
        args = [repr(deadline), repr(self.burst_ms / 1000), repr(self.period_ms / 1000), repr(self.started_at),
                str(self.nice)]
        for _ in range(self.procs):
            self.children.append(subprocess.Popen([sys.executable, "-c", SPIN, *args], stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL))


    def stop(self) -> None:
        for child in self.children[:1]:  # each child set its own priority first thing: what did it get?
            with contextlib.suppress(OSError):
                self.effective_nice = os.getpriority(os.PRIO_PROCESS, child.pid)
        for child in self.children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        if self.children and self.stopped_at is None:
            self.stopped_at = time.time()
        self.children = []

    def describe(self) -> dict[str, float | int | None]:
        return {"procs": self.procs, "duration_s": self.duration_s, "nice": self.effective_nice,
                "burst_ms": self.burst_ms, "period_ms": self.period_ms, "started_at": self.started_at,
                "stopped_at": self.stopped_at}
