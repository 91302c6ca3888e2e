"""Supervised child processes: spawn, watch, restart on exit, stop cleanly (SIGTERM, then SIGKILL).

A child with a `spare_argv` gets a *warm spare*: a second process, started once the child works, that has
imported everything and waits for one line on its stdin. When the child dies the spare is told "go" and
takes its place at once (a new Python process spends most of a second on imports on a busy 2-core
machine); a new spare is started a little later. A crash before it is ready gets a new process after the
usual backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ExitCallback = Callable[["ManagedProcess", int, float], Awaitable[None]]
SPARE_DELAY_S = 2.0  # after a promotion, the next spare waits this long (the promoted one starts first)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (those gone count nothing)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def spares_idle(pids: list[int], timeout_s: float = 30.0, step_s: float = 0.5) -> bool:
    """Wait until these warm spares are done importing: their CPU time stops growing. False on timeout."""
    deadline = time.monotonic() + timeout_s
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(step_s)
        now = cpu_seconds(pids)
        if now - last < 0.005:
            return True
        last = now
    return False


async def wait_spares_ready(processes: Callable[[], Awaitable[list[dict[str, Any]]]], timeout_s: float = 30.0) -> bool:
    """Wait until every running process that keeps a warm spare has one (a lab that has just started arms them
    a moment later) and those spares are done importing. `processes` lists them as `describe()` does (in
    process, or from the supervisor's `GET /processes`). False after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        expected = [p for p in await processes() if p.get("warm_spare") and p.get("running")]
        if all(p.get("spare_pid") for p in expected) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.25)
    pids = [p["spare_pid"] for p in expected if p.get("spare_pid")]
    return await spares_idle(pids, max(0.5, deadline - time.monotonic())) and len(pids) == len(expected)


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
    spare_argv: list[str] | None = None  # a warm spare: imports everything, then waits for "go" on its stdin
    spare_nice: int = 0  # the spare waits at this niceness; it runs at full priority once it takes over
    before_start: Callable[[], None] | None = None  # run before every spawn (postgres: clear a stale lock file)


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
        self.spare: asyncio.subprocess.Process | None = None
        self.promotions = 0
        self._arming: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, nice: int = 0) -> None:
        """Spawn the child (its own session, so a terminal's Ctrl-C reaches only the supervisor)."""
        self._stopping = False
        if self.spec.before_start is not None:
            await asyncio.to_thread(self.spec.before_start)
        self.proc = await self._spawn(self.spec.argv, nice, asyncio.subprocess.DEVNULL)
        self.started_at = time.time()
        self._watch = asyncio.create_task(self._watch_exit(self.proc), name=f"watch-{self.spec.name}")

    async def _spawn(self, argv: list[str], nice: int, stdin: int) -> asyncio.subprocess.Process:
        log = open(self.log_path, "ab", buffering=0)  # noqa: ASYNC230, SIM115 (the child's stdout; a local file)
        env = {**os.environ, **self.spec.env}
        kwargs: dict[str, object] = {}
        if self.spec.uid_gid:
            kwargs["user"], kwargs["group"] = self.spec.uid_gid
            kwargs["extra_groups"] = []
        if nice:
            kwargs["preexec_fn"] = lambda: os.nice(nice)
        try:
            return await asyncio.create_subprocess_exec(
                *argv, stdin=stdin, stdout=log, stderr=log,
                env=env, start_new_session=True, **kwargs,  # type: ignore[arg-type]
            )
        finally:
            log.close()

    @property
    def spare_pid(self) -> int | None:
        return self.spare.pid if self.spare and self.spare.returncode is None else None

    @property
    def keeps_spare(self) -> bool:
        """A warm spare is kept for this process: it has a spare command and is restarted when it exits."""
        return bool(self.spec.spare_argv) and self.auto_restart

    async def arm_spare(self, delay_s: float = 0.0) -> None:
        """Start the warm spare (no-op without `spare_argv`, when restarts are off, or when one is waiting)."""
        if delay_s:
            await asyncio.sleep(delay_s)
        if not self.keeps_spare or self._stopping or self.spare_pid is not None:
            return
        # At a low priority: its imports must not slow the services that are working.
        self.spare = await self._spawn(self.spec.spare_argv or [], self.spec.spare_nice, asyncio.subprocess.PIPE)

    def arm_spare_later(self, delay_s: float = SPARE_DELAY_S) -> None:
        """Start the warm spare in the background after `delay_s`."""
        if self.spec.spare_argv and (self._arming is None or self._arming.done()):
            self._arming = asyncio.create_task(self.arm_spare(delay_s), name=f"spare-{self.spec.name}")

    async def _promote(self) -> bool:
        """The waiting spare becomes the child; False when there is none alive."""
        spare, self.spare = self.spare, None
        if spare is None or spare.returncode is not None or spare.stdin is None:
            return False
        if self.spec.spare_nice:  # raising a priority needs root: the spare waits niced only then
            # Its imports are done: what is left is the service's start, at full priority (a replica's successor
            # connects and catches up while the survivors carry the load).
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, spare.pid, 0)
        try:
            spare.stdin.write(b"go\n")
            await spare.stdin.drain()
            spare.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.proc = spare
        self.promotions += 1
        self.started_at = time.time()
        self._watch = asyncio.create_task(self._watch_exit(spare), name=f"watch-{self.spec.name}")
        return True

    async def _stop_spare(self) -> None:
        if self._arming is not None:
            self._arming.cancel()
        spare, self.spare = self.spare, None
        if spare is None or spare.returncode is not None:
            return
        if spare.stdin is not None:
            spare.stdin.close()  # end of input: the spare exits by itself
        try:
            await asyncio.wait_for(spare.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                spare.kill()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(spare.wait(), 2.0)

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
            # The warm spare takes over now. A crash loop cannot spin on spares: the next one is started
            # SPARE_DELAY_S later and needs its imports; without one, the backoff applies.
            if await self._promote():
                self._respawned.set()
                self.arm_spare_later()
                return
            await asyncio.sleep(min(0.05 * 2 ** min(self._recent_exits(), 6), 3.0))
            if not self._stopping:
                await self.start(nice=self.spec.restart_nice)
                self._respawned.set()
                self.arm_spare_later()

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

    async def stop(self, timeout_s: float = 5.0, keep_spare: bool = False) -> None:
        """Stop the child (and its spare, unless `keep_spare`) and do not restart it; safe to call twice."""
        self._stopping = True
        if not keep_spare:
            await self._stop_spare()
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

    async def resume(self) -> None:
        """Start a stopped child again: its waiting spare takes over at once when there is one."""
        self._stopping = False
        if not await self._promote():
            await self.start()
        self.arm_spare_later()

    async def restart(self) -> None:
        """Stop (if running) and start again: the operator's manual restart."""
        await self.stop()
        await self.start()
        self.arm_spare_later()

    def describe(self) -> dict[str, object]:
        return {
            "name": self.spec.name,
            "pid": self.pid,
            "running": self.running,
            "replica": self.spec.replica,
            "restarts": self.restarts,
            "auto_restart": self.auto_restart,
            "spare_pid": self.spare_pid,
            "warm_spare": self.keeps_spare,  # one is kept (or being started)
            "promotions": self.promotions,
            "started_at": self.started_at,
            "last_exit": (
                {"pid": self.exits[-1][0], "code": self.exits[-1][1], "at": self.exits[-1][2]}
                if self.exits else None
            ),
            "log": str(self.log_path),
        }
