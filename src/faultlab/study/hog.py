"""A bounded CPU hog: busy processes that make the host noisy for the study's noisy stretch, and always stop.

Each hog is a child Python process spinning until its own deadline (so it ends even if the study is killed
with -9), started at normal priority so it competes with the lab for real; `stop()` kills what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

SPIN = "import time,sys\nd=float(sys.argv[1])\nwhile time.time()<d:\n    pass\n"


class CpuHog:
    """`procs` busy processes for at most `duration_s`: start(), then stop() (safe to call twice)."""

    def __init__(self, procs: int, duration_s: float) -> None:
        if procs < 0:
            raise ValueError("procs must not be negative")
        self.procs = procs
        self.duration_s = duration_s
        self.children: list[subprocess.Popen[bytes]] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        self.started_at = time.time()
        deadline = self.started_at + self.duration_s + 1.0  # a margin: stop() is the normal end
        for _ in range(self.procs):
            self.children.append(subprocess.Popen([sys.executable, "-c", SPIN, repr(deadline)],
                                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))

    def stop(self) -> None:
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
        return {"procs": self.procs, "duration_s": self.duration_s, "started_at": self.started_at,
                "stopped_at": self.stopped_at}
