"""The operator's controls behind the page: faults forwarded to a replica, and a short experiment run as a child."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient, Unreachable
from faultlab.core.config import Settings
from faultlab.core.i18n import LANGUAGES
from faultlab.core.messages import Refused
from faultlab.core.web import ApiError
from faultlab.faults.registry import Call, kinds, lookup, parse_params

OUTPUT_LINES = 400
PHASES_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}(,[a-z][a-z0-9-]{0,31}){0,15}$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
START_CHECK_S = 0.5  # a command that is missing or refuses its arguments exits within this


def replica_of(value: Any, settings: Settings) -> int:
    """A replica number from a body or query value, or a 400 naming the valid ones."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in settings.replica_ids:
        raise ApiError(400, f"replica must be one of {settings.replica_ids}")
    return value


class FaultForwarder:
    """Sends the operator's faults where their kind is applied (the replica, or the supervisor for network and
    process faults: the fault registry's targets) with the admin token, which never leaves the dashboard's process."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.client = LabClient(settings, session=session)  # the dashboard's session, closed by the dashboard

    async def send(self, call: Call, replica: int) -> tuple[int, dict[str, Any]]:
        """The target's status and answer (an answer that is not an object wrapped); 504 / 502 when it does not
        answer, the client's own refusal (no token) with its status."""
        try:
            status, data = await self.client.send_call(call)
        except Unreachable as exc:
            if exc.timed_out:
                raise ApiError(504, f"replica {replica}'s fault was not answered within {call.timeout_s:g} s",
                               replica=replica) from None
            raise ApiError(502, f"replica {replica} is not reachable ({exc.reason}); a crashed replica has no fault "
                                "left to clear", replica=replica) from None
        except ApiCallError as exc:
            raise ApiError(exc.status or 502, exc.error, replica=replica) from None
        if data is None:
            data = {}
        elif isinstance(data, str):
            data = {"error": data[:200]}
        return status, data if isinstance(data, dict) else {"answer": data}

    async def inject(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A fault of any registered kind on one replica: its parameters checked by its model first (a 400)."""
        replica = replica_of(body.get("replica"), self.settings)
        fault = {k: v for k, v in body.items() if k != "replica"}
        try:
            params = parse_params(fault)
        except Refused as exc:
            raise ApiError(400, str(exc), problems=[p.describe() for p in exc.problems]) from None
        spec = kinds()[params.kind]
        return await self.send(spec.site.inject(self.settings, spec.kind, replica, params.params()), replica)

    async def clear(self, replica: int, kind: str | None) -> tuple[int, dict[str, Any]]:
        """One kind undone where it was applied; without a kind, every fault the replica itself holds."""
        if kind is None:
            return await self.send(Call("DELETE", f"{self.settings.replica_url(replica)}/faults"), replica)
        try:
            spec = lookup(kind)
        except Refused as exc:
            raise ApiError(400, str(exc)) from None
        return await self.send(spec.site.clear(self.settings, spec.kind, replica), replica)

    async def list(self) -> dict[str, Any]:
        async def one(replica: int) -> dict[str, Any]:
            try:
                status, data = await self.send(Call("GET", f"{self.settings.replica_url(replica)}/faults", None, 3.0),
                                               replica)
                return {"replica": replica, "reachable": True, "http_status": status, "faults": data.get("faults")}
            except ApiError as exc:
                return {"replica": replica, "reachable": False, "error": exc.message}

        return {"replicas": list(await asyncio.gather(*(one(r) for r in self.settings.replica_ids)))}


def kinds_json(lang: str) -> dict[str, Any]:
    """The fault registry as the page reads it (`GET /api/fault-kinds`): each kind, its form and its words."""
    gettext = i18n.gettext_for(lang)
    return {"lang": lang, "kinds": [spec.describe(gettext) for spec in kinds().values()]}


def _ctrl_c_default() -> None:
    """In the experiment's child, before it runs: SIGINT back to its default. A dashboard started in the background
    (`&` in a script, a detached lab) inherits SIGINT ignored, and so would the child: the stop button's Ctrl-C would
    do nothing, and the run would be killed 20 s later without clearing its faults or writing its partial report."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class ExperimentProcess:
    """At most one `faultlab experiment` child at a time: its output, its state and its exit code."""

    def __init__(self, settings: Settings, runs_dir: Path) -> None:
        self.settings = settings
        self.runs_dir = runs_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.argv: list[str] = []
        self.state = "idle"  # idle, running, finished, missed, interrupted, failed
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.exit_code: int | None = None
        self.interrupt_sent = False  # the operator pressed stop: a death by SIGINT is an interruption, not a failure
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self.lines_seen = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        # One source of truth for the page: "running" from the spawn until the output is read and the exit code
        # known, so a tick never shows state "running" with the start button enabled (or the reverse).
        return self.state == "running"

    def command(self, phases: str | None) -> list[str]:
        argv = [sys.executable, "-m", "faultlab", "experiment", "--duration", "5", "--repeat", "1",
                "--runs-dir", str(self.runs_dir)]
        if phases is not None:
            if not isinstance(phases, str) or not PHASES_RE.match(phases):
                raise ApiError(400, "phases must be a comma-separated list of phase names, e.g. baseline,crash")
            argv += ["--phases", phases]
        return argv

    @staticmethod
    def language_args(lang: str | None) -> list[str]:
        """`--lang` for the page's language (the output and report.html speak it); none: the lab's language."""
        if lang is None:
            return []
        if lang not in LANGUAGES:
            raise ApiError(400, f"lang must be one of {', '.join(LANGUAGES)}")
        return ["--lang", lang]

    async def start(self, phases: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """Spawn the experiment; a command that exits at once (missing, bad arguments) is an error, not a run."""
        if self.running:
            raise ApiError(409, "an experiment is already running", experiment=self.describe())
        argv = self.command(phases) + self.language_args(lang)
        env = {**os.environ, **self.settings.to_env(), "COLUMNS": "110", "TERM": "dumb", "NO_COLOR": "1",
               "PYTHONUNBUFFERED": "1"}
        self.output.clear()
        self.lines_seen = 0
        self.argv = argv
        self.exit_code, self.ended_at = None, None
        self.interrupt_sent = False
        self.started_at = time.time()
        self.proc, self.state = None, "running"
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_ctrl_c_default)
        except OSError as exc:
            self.state, self.ended_at = "failed", time.time()
            raise ApiError(500, f"could not start the experiment: {exc}") from None
        self._reader = asyncio.create_task(self._follow(self.proc), name="experiment-output")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), START_CHECK_S)
        if self.exit_code is not None and self.exit_code not in (0, 1):
            raise ApiError(502, "the experiment command exited at once (is `faultlab experiment` available?)",
                           experiment=self.describe())
        return self.describe()

    async def _follow(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            async for raw in proc.stdout:
                for part in raw.decode(errors="replace").replace("\r", "\n").split("\n"):
                    line = ANSI_RE.sub("", part).rstrip()
                    if line:
                        self.output.append(line)
                        self.lines_seen += 1
        finally:
            self.exit_code = await proc.wait()
            self.ended_at = time.time()
            # `faultlab experiment` exits 0 when every threshold held, 1 when the run completed but missed one.
            self.state = {0: "finished", 1: "missed", 130: "interrupted"}.get(self.exit_code, "failed")
            if self.interrupt_sent and self.exit_code == -signal.SIGINT:  # Ctrl-C before its handler was set
                self.state = "interrupted"

    async def interrupt(self) -> dict[str, Any]:
        """Ctrl-C for the experiment (it clears its faults and writes a partial report), then wait for it."""
        if not self.running or self.proc is None:
            raise ApiError(409, "no experiment is running", experiment=self.describe())
        with contextlib.suppress(ProcessLookupError):
            self.interrupt_sent = True
            self.proc.send_signal(signal.SIGINT)
        await self._wait(20.0)
        return self.describe()

    async def _wait(self, timeout_s: float) -> None:
        if self.proc is None:
            return
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: whatever it started goes too
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 2.0)

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Leave no child behind when the dashboard stops (within the supervisor's 5 s); safe to call twice."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            await self._wait(timeout_s)
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()

    def describe(self, tail: int = 60) -> dict[str, Any]:
        return {
            "state": self.state, "running": self.running, "pid": self.proc.pid if self.running and self.proc else None,
            "argv": self.argv[1:], "started_at": self.started_at, "ended_at": self.ended_at,
            "exit_code": self.exit_code, "lines": self.lines_seen, "output": list(self.output)[-tail:],
        }
