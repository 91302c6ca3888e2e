"""Recorded traces: the monitor's observations read from its `GET /trace` into one JSON-lines file per segment.

A segment is a stretch of the study (fault-free, noisy, one fault kind's repetitions) with a start and an end
in the monitor's arrival time `t`; each observation goes to the file of the segment its `t` falls in, so what
arrives while the study moves from one segment to the next is never put in the wrong one. The files are the
study's data: `faultlab study replay` reads them back and judges every detector setting again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from faultlab.core.client import ApiCallError, LabClient

POLL_S = 0.5
READ_LIMIT = 10_000
LEASE_S = 60.0
TIMEOUT_S = 10.0  # a read of READ_LIMIT observations, on a busy machine


@dataclass
class Segment:
    """One stretch of the trace: observations with `start <= t < end` go to `traces/<name>.jsonl`; detectors are
    judged from `measure_from` (what comes before lets every detector reach ON and learn)."""

    name: str
    kind: str  # "quiet", "noisy" or "fault"
    start: float
    measure_from: float
    end: float | None = None
    fault_kind: str | None = None

    @property
    def file(self) -> str:
        return f"traces/{self.name}.jsonl"

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "file": self.file}


class TraceRecorder:
    """Holds the monitor's recording open and writes what it reads into the current segments' files."""

    def __init__(self, client: LabClient, run_dir: Path) -> None:
        self.client = client  # started and stopped by its owner (the study runner), around start() and stop()
        self.url = client.url("monitor", "/trace")
        self.run_dir = run_dir
        self.segments: list[Segment] = []
        self.counts: dict[str, int] = {}
        self.outside = 0  # observations between segments (not kept)
        self.dropped = 0  # entries the monitor's bounded buffer lost before they were read
        self._files: dict[str, IO[str]] = {}
        self._next = 0
        self._task: asyncio.Task[None] | None = None
        self._started = False

    async def start(self) -> None:
        (self.run_dir / "traces").mkdir(parents=True, exist_ok=True)
        status, body = await self.client.send("POST", self.url, {"lease_s": LEASE_S}, auth=True, timeout_s=TIMEOUT_S)
        if status != 201:
            raise RuntimeError(f"the monitor refused to record: HTTP {status} {body}")
        self._started = True
        self._next = int(body["next"]) - 1
        self._task = asyncio.create_task(self._poll(), name="trace-recorder")

    def begin(self, segment: Segment) -> None:
        self.segments.append(segment)
        self.counts[segment.name] = 0
        self._files[segment.name] = open(self.run_dir / segment.file, "w")  # noqa: SIM115 (closed in stop)

    async def drain(self) -> None:
        """Read everything recorded so far (a segment's end is final once what arrived before it is read)."""
        while await self._read_once():
            pass

    async def _read_once(self) -> bool:
        status, body = await self.client.send("GET", f"{self.url}?since={self._next}&limit={READ_LIMIT}", auth=True,
                                              timeout_s=TIMEOUT_S)
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"the monitor's trace: HTTP {status} {body}")
        entries = body["observations"]
        self.dropped = int(body.get("dropped", 0))
        if entries:
            self._next = entries[-1]["n"]
        for entry in entries:
            self._write(entry)
        return len(entries) == READ_LIMIT

    def _write(self, entry: dict[str, Any]) -> None:
        t = entry["t"]
        for seg in reversed(self.segments):
            if seg.start <= t and (seg.end is None or t < seg.end):
                entry.pop("n", None)
                self._files[seg.name].write(json.dumps(entry, separators=(",", ":")) + "\n")
                self.counts[seg.name] += 1
                return
        self.outside += 1

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            with contextlib.suppress(ApiCallError):
                await self.drain()

    async def stop(self) -> None:
        """Read what is left, close the monitor's recording and the files (safe to call twice)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._started:
            with contextlib.suppress(RuntimeError):  # ApiCallError included
                await self.drain()
            with contextlib.suppress(ApiCallError):
                await self.client.send("DELETE", self.url, auth=True, timeout_s=TIMEOUT_S)
            self._started = False
        for handle in self._files.values():
            handle.close()
        self._files = {}


def read_trace(path: Path) -> list[dict[str, Any]]:
    """A segment's observations in the order the monitor received them."""
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]
