"""A guide system's own commands for one replica (restart, stop, start — `docker compose restart inventory-svc-{n}`),
run in a shell with a timeout; when each started and ended is what the lab times recovery from."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandRun:
    """One run of a command: the line run, when it started and ended, its exit code (None: killed at the timeout),
    and the tail of what it printed."""

    command: str
    started_at: float
    ended_at: float
    code: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def problem(self) -> str | None:
        """Why the run failed, in one line (None when it did not)."""
        if self.code == 0:
            return None
        said = f": {self.output.strip().splitlines()[-1][:200]}" if self.output.strip() else ""
        if self.code is None:
            return f"`{self.command}` did not finish in time and was stopped{said}"
        return f"`{self.command}` exited with {self.code}{said}"


def command_for(template: str, replica: int) -> str:
    """The command line for one replica: `{n}` replaced by its number."""
    return template.replace("{n}", str(replica))


def runnable(template: str) -> str | None:
    """Why a command cannot run here (its program is not found), None when it can."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        return f"not a command line: {exc}"
    program = next((w for w in words if "=" not in w), None)  # skip VAR=value assignments
    if program is None:
        return "no program named"
    if shutil.which(program) is None and not os.path.exists(program):
        return f"{program}: not found"
    return None


async def run_command(template: str, replica: int, timeout_s: float) -> CommandRun:
    """Run the command for `replica` in a shell (its own process group, killed whole at the timeout)."""
    line = command_for(template, replica)
    started_at = time.time()
    proc = await asyncio.create_subprocess_shell(line, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    code: int | None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        code = proc.returncode
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, code = b"", None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
        if isinstance(exc, asyncio.CancelledError):
            raise
    return CommandRun(line, started_at, time.time(), code, out[-2000:].decode(errors="replace"))
