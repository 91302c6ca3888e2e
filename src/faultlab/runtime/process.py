"""Supervised child processes: spawn, watch, restart on exit, stop cleanly (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ExitCallback = Callable[["ManagedProcess", int, float], Awaitable[None]]


@dataclass
class ProcessSpec:
    """How to run one child: command, environment, user, restart policy."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    uid_gid: tuple[int, int] | None = None
    stop_signal: str = "SIGTERM"
    restart: bool = True
    replica: int | None = None
    restart_nice: int = 0  # a restarted child starts at this niceness (it renices itself once working)


class ManagedProcess:
    """One supervised child; `exits` records (pid, returncode, died_at wall time)."""

    def __init__(self, spec: ProcessSpec, log_dir: Path, on_exit: ExitCallback | None = None) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at: float | None = None
        self.restarts = 0
        self.exits: list[tuple[int, int, float]] = []
        self.auto_restart = spec.restart
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self._respawned = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, nice: int = 0) -> None:
        """Spawn the child (its own session, so a terminal's Ctrl-C reaches only the supervisor)."""
        self._stopping = False
        log = open(self.log_path, "ab", buffering=0)
        env = {**os.environ, **self.spec.env}
        kwargs: dict[str, object] = {}
        if self.spec.uid_gid:
            kwargs["user"], kwargs["group"] = self.spec.uid_gid
            kwargs["extra_groups"] = []
        if nice:
            kwargs["preexec_fn"] = lambda: os.nice(nice)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.spec.argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                env=env, start_new_session=True, **kwargs,  # type: ignore[arg-type]
            )
        finally:
            log.close()
        self.started_at = time.time()
        self._watch = asyncio.create_task(self._watch_exit(self.proc), name=f"watch-{self.spec.name}")

    async def _watch_exit(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        died_at = time.time()
        self.exits.append((proc.pid, code, died_at))
        if self._stopping:
            return
        if self.on_exit:
            with contextlib.suppress(Exception):
                await self.on_exit(self, code, died_at)
        if self.auto_restart and not self._stopping:
            self.restarts += 1
            await asyncio.sleep(min(0.05 * 2 ** min(self._recent_exits(), 6), 3.0))
            if not self._stopping:
                await self.start(nice=self.spec.restart_nice)
                self._respawned.set()

    def _recent_exits(self) -> int:
        now = time.time()
        return sum(1 for _pid, _code, at in self.exits if now - at < 10) - 1

    def signal(self, sig: int) -> bool:
        """Send a signal to the child; False when it is not running."""
        if not self.running or self.proc is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        return True

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the child and do not restart it; safe to call twice."""
        self._stopping = True
        if self.running and self.proc is not None:
            self.signal(getattr(signal, self.spec.stop_signal))
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 2.0)
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch

    async def restart(self) -> None:
        """Stop (if running) and start again: the operator's manual restart."""
        await self.stop()
        await self.start()

    def describe(self) -> dict[str, object]:
        return {
            "name": self.spec.name,
            "pid": self.pid,
            "running": self.running,
            "replica": self.spec.replica,
            "restarts": self.restarts,
            "auto_restart": self.auto_restart,
            "started_at": self.started_at,
            "last_exit": (
                {"pid": self.exits[-1][0], "code": self.exits[-1][1], "at": self.exits[-1][2]}
                if self.exits else None
            ),
            "log": str(self.log_path),
        }
