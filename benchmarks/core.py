"""Figures of the replicated core with the whole lab running on this machine.

Prints: start-to-working time (cold and warm), idle CPU of the whole lab, the apply delay of an order
after a pause and while orders flow (the fetch-wait trade-off), voted reads/s and accepted
orders/s at saturation (closed loop, all three replicas keeping up), and p50/p95/p99 at a fixed
open-loop rate (300 req/s by default).

    .venv/bin/python benchmarks/core.py [--seconds 10] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import lab_settings, run
from faultlab.core.client import LabClient
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.process import cpu_seconds, wait_spares_ready
from faultlab.runtime.supervisor import Supervisor


def lab_processes(lab: Supervisor) -> list[psutil.Process]:
    """Every process of the lab: the services with their children, and the warm spares."""
    procs = []
    for managed in lab.processes.values():
        for pid in (managed.pid, managed.spare_pid):
            if pid:
                parent = psutil.Process(pid)
                procs += [parent, *parent.children(recursive=True)]
    return procs


async def spares_settled(lab: Supervisor, timeout_s: float = 60.0) -> float:
    """Wait until the warm spares (started once the lab works) are armed and done importing; seconds waited."""
    started = time.perf_counter()

    async def processes() -> list[dict[str, object]]:
        return [m.describe() for m in lab.processes.values()]

    await wait_spares_ready(processes, timeout_s)
    return time.perf_counter() - started


async def closed_loop(make_url: object, seconds: float, concurrency: int, method: str = "GET") -> tuple[int, int]:
    """(successes, failures) of `concurrency` workers sending back to back for `seconds`."""
    ok = failed = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal ok, failed
            while time.perf_counter() < deadline:
                url, body = make_url()  # type: ignore[operator]
                try:
                    async with session.request(method, url, json=body) as resp:
                        await resp.read()
                        if resp.status < 400:
                            ok += 1
                        else:
                            failed += 1
                except aiohttp.ClientError:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


WRK_POST = """
local products = {%s}
request = function()
  local body = string.format('{"product_id": "%%s", "quantity": 1}', products[math.random(#products)])
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
WRK_GET = """
local products = {%s}
request = function()
  return wrk.format("GET", "%s" .. products[math.random(#products)])
end
"""


def wrk(url: str, script: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """(requests/s, non-2xx or socket errors) measured by wrk, a C load generator that costs little CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "-s", handle.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout|read|write|connect)\s*:?\s*(\d+)",
                                                 out))
    return rate, errors


async def replicas_caught_up(client: LabClient) -> float:
    """Seconds until every replica has applied everything the relay has published."""
    start = time.perf_counter()
    while True:
        positions = []
        for r in client.settings.replica_ids:
            health = await client.health(f"inventory-{r}")
            positions.append((health["applied_seq"], health["lag"]))
        orders = await client.health("orders")
        if all(lag == 0 for _seq, lag in positions) and len({seq for seq, _ in positions}) == 1 and \
                orders["relay"]["published_total"] >= positions[0][0]:
            return time.perf_counter() - start
        await asyncio.sleep(0.05)


async def apply_delay_ms(client: LabClient, product: str) -> float:
    """Milliseconds from POST /orders to the order applied by every replica (their /health positions)."""

    async def applied() -> list[int]:
        return [(await client.health(f"inventory-{r}"))["applied_seq"] for r in client.settings.replica_ids]

    before = max(await applied())
    started = time.perf_counter()
    status, answer = await client.send("POST", client.url("orders", "/orders"), {"product_id": product, "quantity": 1})
    assert status == 201, answer
    while min(await applied()) <= before:
        await asyncio.sleep(0.002)
    return (time.perf_counter() - started) * 1000


async def apply_delays(lab: Supervisor, product: str, count: int = 7) -> tuple[list[float], list[float]]:
    """Apply delays of single orders after 2 s of quiet (the idle fetch wait) and 0.2 s apart (the busy one)."""
    async with LabClient(lab.settings) as client:
        after_pause = []
        for _ in range(count):
            await asyncio.sleep(2.0)
            after_pause.append(await apply_delay_ms(client, product))
        flowing = []
        for _ in range(count):
            await asyncio.sleep(0.2)
            flowing.append(await apply_delay_ms(client, product))
    return after_pause, flowing


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as home:
        settings = lab_settings(Path(home))
        started = time.perf_counter()
        lab = Supervisor(settings)
        await lab.start()
        cold = time.perf_counter() - started
        await lab.stop()
        started = time.perf_counter()
        lab = Supervisor(settings)
        await lab.start()
        warm = time.perf_counter() - started
        print(f"start to working (services answering, consumers assigned, replicas ON): "
              f"cold {cold:.2f} s (first run: initdb), warm {warm:.2f} s")
        try:
            s = lab.settings
            settled = await spares_settled(lab)
            pids = [p.pid for p in lab_processes(lab)]
            print(f"warm spares ({sum(1 for m in lab.processes.values() if m.spare_pid)}) ready "
                  f"{settled:.1f} s after the lab worked")
            await asyncio.sleep(3)
            before = cpu_seconds(pids)
            await asyncio.sleep(args.idle_seconds)
            idle = (cpu_seconds(pids) - before) / args.idle_seconds * 100
            print(f"idle CPU of the whole lab ({len(pids)} processes, {args.idle_seconds:.0f} s): "
                  f"{idle:.1f} % of one core")

            products = sorted(s.initial_stock)
            paused, flowing = await apply_delays(lab, products[0])
            print(f"apply delay (POST /orders -> applied by all {len(s.replica_ids)} replicas), median / max of "
                  f"{len(paused)}: after 2 s of quiet {statistics.median(paused):.0f} / {max(paused):.0f} ms "
                  f"(fetch wait {s.fetch_idle_wait_ms} ms), orders 0.2 s apart {statistics.median(flowing):.0f} / "
                  f"{max(flowing):.0f} ms (fetch wait {s.fetch_wait_ms} ms)")
            voter = s.service_url("voter")
            orders_url = f"{s.service_url('orders')}/orders"
            quoted = ", ".join(f'"{p}"' for p in products)
            use_wrk = shutil.which("wrk") is not None and not args.python_client
            client = "wrk" if use_wrk else "Python closed loop"
            if use_wrk:
                rate, failed = await asyncio.to_thread(
                    wrk, voter, WRK_GET % (quoted, "/inventory/voted/"), args.seconds, args.concurrency)
            else:
                ok, failed = await closed_loop(
                    lambda: (f"{voter}/inventory/voted/{random.choice(products)}", None), args.seconds,
                    args.concurrency)
                rate = ok / args.seconds
            print(f"voted reads at saturation ({client}, {args.concurrency} connections, {args.seconds:.0f} s): "
                  f"{rate:,.0f} /s, {failed} failed")

            if use_wrk:
                rate, failed = await asyncio.to_thread(wrk, orders_url, WRK_POST % quoted, args.seconds,
                                                       args.concurrency)
            else:
                ok, failed = await closed_loop(
                    lambda: (orders_url, {"product_id": random.choice(products), "quantity": 1}),
                    args.seconds, args.concurrency, method="POST")
                rate = ok / args.seconds
            async with LabClient(s) as api:
                settle = await replicas_caught_up(api)
            print(f"accepted orders at saturation ({client}, {args.concurrency} connections, {args.seconds:.0f} s): "
                  f"{rate:,.0f} /s, {failed} failed; all three replicas caught up "
                  f"{settle * 1000:.0f} ms after the load stopped")

            for target in ("voted", "orders"):
                load = OpenLoopLoad(request_factory(s, target, seed=1), rate=args.rate, duration_s=args.seconds,
                                    target=target)
                result = (await load.run()).describe()
                print(f"open loop {target:6s} at {args.rate:g} req/s for {args.seconds:.0f} s: "
                      f"p50 {result['p50_latency_ms']:.2f} ms, p95 {result['p95_latency_ms']:.2f} ms, "
                      f"p99 {result['p99_latency_ms']:.2f} ms, max {result['max_latency_ms']:.2f} ms, "
                      f"success {result['success_rate']:.2f} %, max send lag {result['max_send_lag_ms']:.2f} ms")
        finally:
            await lab.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--python-client", action="store_true", help="saturate with aiohttp even if wrk is installed")
    raise SystemExit(run(main(parser.parse_args())))
