"""What the fault proxy adds to a request with no fault on: p50 and p99 at a fixed open-loop rate, straight to the
replica and through the proxy side by side in one run, alternating request by request.

    .venv/bin/python benchmarks/proxy.py [--rate 300] [--seconds 30] [--rounds 3] [--warmup 2]

Starts a small upstream in its own process (an aiohttp app answering a guide-like inventory as JSON, on uvloop),
and `faultlab system proxy` in front of it (its own process, as a user runs it). This process sends `--rate`
requests/s to each (300 straight, 300 through the proxy, interleaved: each pair's order alternates) and measures
each from its intended send time (no coordinated omission). Prints per round and overall p50 and p99 of both and
the difference, against the budget: at most +0.5 ms at p50 and +2 ms at p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import free_port, run

BUDGET_P50_MS = 0.5
BUDGET_P99_MS = 2.0
INVENTORY = {"instance_id": "1", "inventory": [
    {"product_id": f"PROD-00{n}", "available_quantity": 1000 - n, "reserved_quantity": n, "instance_id": "1",
     "timestamp": "2026-12-07T10:00:00.000+00:00"} for n in (1, 2, 3)]}


def serve_upstream(port: int) -> None:
    """The replica stand-in: GET /inventory and /health, as a small aiohttp app does."""
    import uvloop
    from aiohttp import web

    async def inventory(_request: web.Request) -> web.Response:
        return web.json_response(INVENTORY)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    app = web.Application()
    app.router.add_get("/inventory", inventory)
    app.router.add_get("/health", health)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def wait_answering(session: aiohttp.ClientSession, url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with session.get(url) as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout_s:g} s")
        await asyncio.sleep(0.1)


async def measure(session: aiohttp.ClientSession, urls: dict[str, str], rate: float, seconds: float,
                  warmup_s: float) -> dict[str, tuple[list[float], int]]:
    """`rate` requests/s to each url for `seconds`, interleaved; latency (ms) from each intended send time."""
    clock = time.perf_counter  # uvloop's loop.time() counts whole milliseconds
    names = list(urls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    errors = dict.fromkeys(names, 0)
    tasks: set[asyncio.Task[None]] = set()

    async def one(name: str, intended: float, keep: bool) -> None:
        try:
            async with session.get(urls[name]) as answer:
                await answer.read()
                ok = answer.status == 200
        except aiohttp.ClientError:
            ok = False
        if not keep:
            return
        if ok:
            samples[name].append((clock() - intended) * 1000)
        else:
            errors[name] += 1

    pairs = int(rate * (seconds + warmup_s))
    start = clock() + 0.05
    for k in range(pairs):
        order = names if k % 2 == 0 else names[::-1]
        for i, name in enumerate(order):
            intended = start + k / rate + i / (rate * len(names))
            delay = intended - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(name, intended, k >= rate * warmup_s))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    return {name: (samples[name], errors[name]) for name in names}


def start(args: argparse.Namespace) -> int:
    """Start the upstream and the proxy, measure, stop both (however the measurement ends)."""
    root = Path(__file__).resolve().parents[1]
    upstream_port, proxy_port, control_port = free_port(), free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "FAULTLAB_LANG": "en", "COLUMNS": "200"}
    upstream = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(upstream_port)], env=env)
    home = tempfile.mkdtemp(prefix="faultlab-proxy-bench-")
    proxy = subprocess.Popen([sys.executable, "-m", "faultlab", "--home", home, "system", "proxy",
                              "--upstream", f"1=http://127.0.0.1:{upstream_port}", "--ports", str(proxy_port),
                              "--control-port", str(control_port)], env=env, stdout=subprocess.DEVNULL)
    urls = {"direct": f"http://127.0.0.1:{upstream_port}/inventory", "proxied": f"http://127.0.0.1:{proxy_port}/inventory"}
    try:
        return run(main(args, urls))
    finally:
        for process in (proxy, upstream):
            process.send_signal(signal.SIGINT)
        for process in (proxy, upstream):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(home, ignore_errors=True)


async def main(args: argparse.Namespace, urls: dict[str, str]) -> int:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in urls.values():
            await wait_answering(session, url)
        print(f"fault proxy overhead, no fault on: {args.rate:g} req/s straight and {args.rate:g} req/s through "
              f"the proxy, interleaved; {args.rounds} round(s) of {args.seconds:g} s (+{args.warmup:g} s "
              f"warm-up each); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}; load average "
              f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(f"{'round':>5} {'direct p50':>11} {'proxied p50':>12} {'added':>8} {'direct p99':>11} "
              f"{'proxied p99':>12} {'added':>8} {'errors':>7}")
        every: dict[str, list[float]] = {name: [] for name in urls}
        failed = 0
        for round_ in range(1, args.rounds + 1):
            found = await measure(session, urls, args.rate, args.seconds, args.warmup)
            row = {name: (percentile(s, 50), percentile(s, 99)) for name, (s, _e) in found.items()}
            errors = sum(e for _s, e in found.values())
            failed += errors
            for name, (s, _e) in found.items():
                every[name] += s
            d, p = row["direct"], row["proxied"]
            print(f"{round_:>5} {d[0]:>8.2f} ms {p[0]:>9.2f} ms {p[0] - d[0]:>+5.2f} ms {d[1]:>8.2f} ms "
                  f"{p[1]:>9.2f} ms {p[1] - d[1]:>+5.2f} ms {errors:>7}")
        d50, p50 = percentile(every["direct"], 50), percentile(every["proxied"], 50)
        d99, p99 = percentile(every["direct"], 99), percentile(every["proxied"], 99)
        print(f"{'all':>5} {d50:>8.2f} ms {p50:>9.2f} ms {p50 - d50:>+5.2f} ms {d99:>8.2f} ms {p99:>9.2f} ms "
              f"{p99 - d99:>+5.2f} ms {failed:>7}   ({len(every['proxied'])} requests each)")
        met = p50 - d50 <= BUDGET_P50_MS and p99 - d99 <= BUDGET_P99_MS and failed == 0
        print(f"budget: at most +{BUDGET_P50_MS} ms at p50 and +{BUDGET_P99_MS} ms at p99, no error: "
              f"{'met' if met else 'NOT met'}")
        return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="requests/s each way (default 300)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per round (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded at each round's start")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_upstream:
        serve_upstream(arguments.serve_upstream)
        sys.exit(0)
    import uvloop

    uvloop.install()
    sys.exit(start(arguments))
