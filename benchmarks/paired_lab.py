"""One ref's lab as a black box for the paired benchmark: its own `faultlab up --detach` / `down`, reached over HTTP.

The same code measures every ref, so a figure means the same for each: the lab gets a temporary lab folder, free
ports and the same stock through FAULTLAB_* variables, and is driven only through its command, its lab folder's
`lab.json` (the supervisor's pid, which both v0.1.0 and later write) and the HTTP answers every version gives
(`/inventory/voted`, `POST /orders`, each replica's `/health` `applied_seq`, the supervisor's `/processes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks.harness import free_block
from benchmarks.paired_refs import InstalledRef
from benchmarks.paired_stats import WrkResult, parse_wrk, process_role, replica_lags_ms, settled_position

PRODUCTS = ("PROD-001", "PROD-002", "PROD-003")
STOCK = {product: 1_000_000 for product in PRODUCTS}  # no order is rejected for stock during a run
REPLICAS = 3
PORT_NAMES = ("orders", "monitor", "voter", "dashboard", "broker", "postgres", "supervisor")
# Orders in turn over the three products, quantity 1, no Idempotency-Key (v0.1.0 has none; later refs take it as
# optional): the same request to every ref. Only 2xx answers (201) count as accepted.
WRK_ORDERS = """
local products = {"PROD-001", "PROD-002", "PROD-003"}
local sent = 0
request = function()
  sent = sent + 1
  local body = '{"product_id": "' .. products[(sent % #products) + 1] .. '", "quantity": 1}'
  return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"}, body)
end
"""
SETTLE_CPU_PCT = 15.0  # a lab process still importing or starting runs near 100 % of a core; idle ones ~1 %


class LabFailed(Exception):
    """A ref's lab did not start or did not work in time; the message carries its command's output."""


async def run_wrk(url: str, seconds: float, connections: int = 32, script: str | None = None) -> WrkResult:
    """`wrk -t1 -c<connections> -d<seconds>s [-s script] url`; the wrk process is killed if this is cancelled."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script or "")
    if script:
        argv[1:1] = ["-s", handle.name]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.unlink(handle.name)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-500:]}")
    return parse_wrk(out.decode())


@dataclass(frozen=True)
class OpenLoopResult:
    """An open-loop order load: sent on schedule, accepted (201), failed (by HTTP status or error), and how late the
    sender fell behind."""

    sent: int
    accepted: int
    failures: dict[str, int]
    duration_s: float
    max_send_lag_ms: float

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s


async def open_loop_orders(session: aiohttp.ClientSession, url: str, rate: float, seconds: float) -> OpenLoopResult:
    """POST an order every 1/rate s from a fixed schedule (never waiting for answers), for `seconds`."""
    accepted = 0
    failures: dict[str, int] = {}
    max_lag = 0.0

    async def send(index: int) -> None:
        nonlocal accepted
        body = {"product_id": PRODUCTS[index % len(PRODUCTS)], "quantity": 1}
        try:
            async with session.post(url, json=body) as resp:
                await resp.read()
                if resp.status == 201:
                    accepted += 1
                    return
                failure = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = type(exc).__name__
        failures[failure] = failures.get(failure, 0) + 1

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.perf_counter() - due)
        tasks.append(asyncio.create_task(send(index)))
    await asyncio.gather(*tasks)
    return OpenLoopResult(total, accepted, dict(sorted(failures.items())), seconds, max_lag * 1000)


class RefLab:
    """A lab of one installed ref in its own lab folder on its own ports: start, measure, stop."""

    def __init__(self, ref: InstalledRef, home: Path, progress: Callable[[str], None]) -> None:
        self.ref = ref
        self.home = home
        self.progress = progress
        self.base = free_block(16)
        self.ports = {name: self.base + i for i, name in enumerate(PORT_NAMES)}
        self.replica_ports = [self.base + 10 + i for i in range(REPLICAS)]
        self.session: aiohttp.ClientSession | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment every `faultlab` command of this lab runs with: no FAULTLAB_* of the caller's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLAB_")}
        env.update({f"FAULTLAB_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(FAULTLAB_HOME=str(self.home), FAULTLAB_INVENTORY_BASE_PORT=str(self.replica_ports[0]),
                   FAULTLAB_REPLICAS=str(REPLICAS), FAULTLAB_INITIAL_STOCK=json.dumps(STOCK),
                   FAULTLAB_RUNS_DIR=str(self.home / "runs"), FAULTLAB_LANG="en", COLUMNS="120")
        return env

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    async def __aenter__(self) -> RefLab:
        self.home.mkdir(parents=True, exist_ok=True)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256),
                                             timeout=aiohttp.ClientTimeout(total=5))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        try:
            await self.stop()
        finally:
            if self.session is not None:
                await self.session.close()

    async def _faultlab(self, *args: str, timeout_s: float) -> tuple[int, str]:
        """Run this ref's `faultlab` command in the lab folder; (exit code, output). Killed if cancelled."""
        proc = await asyncio.create_subprocess_exec(
            str(self.ref.faultlab), *args, cwd=self.home, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return proc.returncode or 0, out.decode(errors="replace")

    async def start(self, timeout_s: float = 90.0) -> tuple[float, float]:
        """`faultlab up --detach`, then a voted read answered 200 and an order accepted (201): (seconds until the
        command returned, seconds until the lab worked), both from the command's launch."""
        started = time.perf_counter()
        code, out = await self._faultlab("up", "--detach", timeout_s=timeout_s)
        returned = time.perf_counter() - started
        if code != 0:
            raise LabFailed(f"{self.ref.label}: `faultlab up --detach` exited {code}:\n{out[-3000:]}")
        await self._until(lambda: self._status("GET", self.url("voter", "/inventory/voted")), 200, started, timeout_s)
        order = {"product_id": PRODUCTS[0], "quantity": 1}
        await self._until(lambda: self._status("POST", self.url("orders", "/orders"), order), 201, started, timeout_s)
        return returned, time.perf_counter() - started

    async def _status(self, method: str, url: str, body: object = None) -> int:
        assert self.session is not None
        try:
            async with self.session.request(method, url, json=body) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _until(self, call: Callable[[], Any], status: int, started: float, timeout_s: float) -> None:
        last = 0
        while time.perf_counter() - started < timeout_s:
            last = await call()
            if last == status:
                return
            await asyncio.sleep(0.02)
        raise LabFailed(f"{self.ref.label}: no {status} in {timeout_s:.0f} s after `up --detach` (last {last})")

    def supervisor_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return int(json.loads((self.home / "lab.json").read_text())["pid"])
        return None

    def processes(self) -> list[psutil.Process]:
        """The supervisor and every process under it (services, broker, database, warm spares)."""
        pid = self.supervisor_pid()
        if pid is None:
            return []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        return []

    async def stop(self) -> int:
        """`faultlab down`, then SIGKILL to anything still running from this lab folder; how many were killed."""
        if (self.home / "lab.json").exists():
            with contextlib.suppress(TimeoutError):
                await self._faultlab("down", timeout_s=60)
        killed = 0
        for proc in leftovers(self.home):
            with contextlib.suppress(psutil.Error):
                proc.kill()
                killed += 1
        if killed:
            self.progress(f"{self.ref.label}: killed {killed} process(es) `faultlab down` left running")
        return killed

    async def settle(self, min_s: float = 3.0, timeout_s: float = 40.0) -> float:
        """Wait until the lab has settled: every warm spare the supervisor keeps is armed, the set of processes has
        not changed for 2 s, and no process used over SETTLE_CPU_PCT of a core in those 2 s; seconds waited."""
        started = time.perf_counter()
        await asyncio.sleep(min_s)
        previous = cpu_snapshot(self.processes())
        calm = 0
        while time.perf_counter() - started < timeout_s:
            await asyncio.sleep(1.0)
            current = cpu_snapshot(self.processes())
            busy = any((cpu - previous.get(key, 0.0)) * 100 > SETTLE_CPU_PCT for key, cpu in current.items())
            same = current.keys() == previous.keys()
            calm = calm + 1 if same and not busy and await self._spares_armed() else 0
            previous = current
            if calm >= 2:
                return time.perf_counter() - started
        self.progress(f"{self.ref.label}: not settled after {timeout_s:.0f} s; measuring all the same")
        return time.perf_counter() - started

    async def _spares_armed(self) -> bool:
        """Every running process the supervisor keeps a warm spare for has one (true for a ref without spares)."""
        assert self.session is not None
        try:
            async with self.session.get(self.url("supervisor", "/processes")) as resp:
                listed = (await resp.json())["processes"]
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            return False
        return all(p.get("spare_pid") for p in listed if p.get("warm_spare") and p.get("running"))

    async def idle_cpu(self, window_s: float) -> tuple[float, int, dict[str, float]]:
        """CPU of every lab process over `window_s` with no load, in % of one core; how many processes; and the
        same CPU by role (each service, `spares`, `broker`, `postgres`, `supervisor`), largest first."""
        procs = self.processes()
        roles = {}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                roles[(proc.pid, proc.create_time())] = process_role(proc.cmdline(), proc.name())
        before = cpu_snapshot(procs)
        await asyncio.sleep(window_s)
        after = cpu_snapshot(self.processes())
        by_role: dict[str, float] = {}
        for key, cpu in after.items():
            role = roles.get(key, "started in the window")
            by_role[role] = by_role.get(role, 0.0) + (cpu - before.get(key, 0.0)) / window_s * 100
        ordered = dict(sorted(by_role.items(), key=lambda item: -item[1]))
        return sum(ordered.values()), len(after), ordered

    async def voted_reads(self, seconds: float) -> WrkResult:
        return await run_wrk(self.url("voter", "/inventory/voted"), seconds)

    async def orders(self, seconds: float) -> tuple[WrkResult, list[float | None]]:
        """Orders at saturation (wrk POSTing), then how far behind each replica was when the load stopped: ms until
        it had applied the position every replica settled on."""
        result = await run_wrk(self.url("orders", "/orders"), seconds, script=WRK_ORDERS)
        ended_at = time.perf_counter()
        return result, await self.replica_lags(ended_at)

    async def replica_lags(self, ended_at: float, quiet_s: float = 1.0, timeout_s: float = 60.0) -> list[float | None]:
        samples: list[tuple[float, list[int]]] = []
        while time.perf_counter() - ended_at < timeout_s:
            seqs = await asyncio.gather(*(self._applied(port) for port in self.replica_ports))
            samples.append((time.perf_counter(), list(seqs)))
            final = settled_position(samples, quiet_s)
            if final is not None:
                return replica_lags_ms(samples, ended_at, final)
            await asyncio.sleep(0.005)
        return [None] * REPLICAS

    async def _applied(self, port: int) -> int:
        assert self.session is not None
        try:
            async with self.session.get(f"http://127.0.0.1:{port}/health") as resp:
                return int((await resp.json())["applied_seq"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
            return -1

    async def after_pause(self, pause_s: float = 2.0, count: int = 5) -> tuple[list[float], list[float]]:
        """Single orders each after `pause_s` of quiet: ms from POST /orders to the order applied by every replica
        (their /health `applied_seq`), and to the order decided (GET /orders/{id} no longer PENDING)."""
        assert self.session is not None
        applied_ms, decided_ms = [], []
        for _ in range(count):
            await asyncio.sleep(pause_s)
            before = max(await asyncio.gather(*(self._applied(port) for port in self.replica_ports)))
            started = time.perf_counter()
            async with self.session.post(self.url("orders", "/orders"),
                                         json={"product_id": PRODUCTS[0], "quantity": 1}) as resp:
                order_id = (await resp.json())["order_id"]
            applied_at = decided_at = None
            while (applied_at is None or decided_at is None) and time.perf_counter() - started < 10:
                if applied_at is None and min(await asyncio.gather(
                        *(self._applied(port) for port in self.replica_ports))) > before:
                    applied_at = time.perf_counter()
                if decided_at is None:
                    async with self.session.get(self.url("orders", f"/orders/{order_id}")) as resp:
                        if (await resp.json()).get("status") != "PENDING":
                            decided_at = time.perf_counter()
                await asyncio.sleep(0.002)
            if applied_at is None or decided_at is None:
                raise LabFailed(f"{self.ref.label}: an order after a pause was not applied and decided in 10 s")
            applied_ms.append((applied_at - started) * 1000)
            decided_ms.append((decided_at - started) * 1000)
        return applied_ms, decided_ms

    async def mixed(self, seconds: float, orders_rate: float) -> tuple[WrkResult, OpenLoopResult]:
        """Voted reads at saturation (wrk) while the harness sends orders open loop at `orders_rate`."""
        assert self.session is not None
        reads = asyncio.create_task(self.voted_reads(seconds))
        try:
            orders = await open_loop_orders(self.session, self.url("orders", "/orders"), orders_rate, seconds)
            return await reads, orders
        finally:
            reads.cancel()
            with contextlib.suppress(BaseException):
                await reads


def cpu_snapshot(procs: list[psutil.Process]) -> dict[tuple[int, float], float]:
    """User + system CPU seconds of each process, keyed by (pid, start time) so a reused pid is another process."""
    snapshot = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            snapshot[(proc.pid, proc.create_time())] = times.user + times.system
    return snapshot


def leftovers(home: Path) -> list[psutil.Process]:
    """Processes still running for this lab folder: FAULTLAB_HOME is it, or their command line names a path in it."""
    mine = str(home.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"], ad_value=None):
        if proc.pid == os.getpid():
            continue
        env = proc.info.get("environ") or {}
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if env.get("FAULTLAB_HOME") in (mine, str(home)) or f"{mine}/" in cmdline:
            found.append(proc)
    return found
