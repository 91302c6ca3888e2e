"""Steady load with no fault for N minutes: count OFF transitions, outlier flags and reads without quorum.

    .venv/bin/python benchmarks/no_false_alarms.py [--minutes 5] [--rate 100]
    .venv/bin/python benchmarks/no_false_alarms.py --minutes 5 --orders-rate 600 --reads-rate 300   # heavy load

The load is open loop: voted reads plus orders (20 %), or orders and voted reads at rates of their own, so
replicas apply writes at slightly different moments all along — the voter must tell "behind" from "wrong",
and the monitor a replica a few milliseconds behind from a stale one, the whole time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faultlab.lab.load import LoadResult, OpenLoopLoad, request_factory  # noqa: E402
from faultlab.runtime.lab import Lab  # noqa: E402
from tests.conftest import lab_settings  # noqa: E402


def merged(results: list[LoadResult]) -> dict:
    """The figures of several concurrent loads as one (counts added, histograms merged)."""
    total = results[0]
    for other in results[1:]:
        total.sent += other.sent
        total.ok += other.ok
        total.latency.merge(other.latency)
        for kind, n in other.errors.items():
            total.errors[kind] += n
        total.wall_s = max(total.wall_s, other.wall_s)
    return total.describe()


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as home:
        stock = {"PROD-001": 10_000_000, "PROD-002": 10_000_000, "PROD-003": 10_000_000}  # every order a change
        async with Lab(lab_settings(Path(home), initial_stock=stock)) as lab:
            s = lab.settings
            async with aiohttp.ClientSession() as session:
                async def get(url: str) -> dict:
                    async with session.get(url) as resp:
                        return await resp.json()

                before = await get(f"{s.service_url('monitor')}/status")
                stats_before = await get(f"{s.service_url('voter')}/voting/stats")
                if args.orders_rate or args.reads_rate:
                    loads = [OpenLoopLoad(request_factory(s, target, seed=7), rate=rate, duration_s=args.minutes * 60,
                                          target=target)
                             for target, rate in (("orders", args.orders_rate), ("voted", args.reads_rate)) if rate]
                    label = f"orders at {args.orders_rate:g}/s and voted reads at {args.reads_rate:g}/s"
                else:
                    loads = [OpenLoopLoad(request_factory(s, "mix", seed=7), rate=args.rate,
                                          duration_s=args.minutes * 60, target="mix")]
                    label = f"open-loop mix at {args.rate:g} req/s"
                started = time.time()
                results: list[LoadResult] = await asyncio.gather(*(load.run(session) for load in loads))
                result = merged(results)
                after = await get(f"{s.service_url('monitor')}/status")
                stats = await get(f"{s.service_url('voter')}/voting/stats")
                failures = await get(f"{s.service_url('monitor')}/failures")
    off = sum(a["transitions"]["OFF"] - b["transitions"]["OFF"] for a, b in zip(after["instances"], before["instances"]))
    flags = {r: (stats["replicas"][r]["wrong"] - stats_before["replicas"][r]["wrong"],
                 stats["replicas"][r]["slow"] - stats_before["replicas"][r]["slow"]) for r in stats["replicas"]}
    votes = stats["total_votes"] - stats_before["total_votes"]
    no_quorum = stats["quorum_not_reached"] - stats_before["quorum_not_reached"]
    episodes = [e for e in failures["failures"] if (e["detected_at"] or 0) >= started]
    print(f"{args.minutes:g} min of {label}, no fault injected")
    print(f"  requests {result['requests']}, success {result['success_rate']} %, p50 {result['p50_latency_ms']} ms,"
          f" p95 {result['p95_latency_ms']} ms, p99 {result['p99_latency_ms']} ms")
    print(f"  voted reads {votes}, without quorum {no_quorum} ({100 * (votes - no_quorum) / max(votes, 1):.3f} % quorum)")
    print(f"  OFF transitions: {off}; detections: {len(episodes)}")
    print(f"  outlier flags (wrong, slow) by replica: {flags}")
    clean = off == 0 and not episodes and all(w == 0 and sl == 0 for w, sl in flags.values())
    print("  verdict:", "no false alarm" if clean else "FALSE ALARMS")
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=100.0, help="rate of the mixed load (without the two below)")
    parser.add_argument("--orders-rate", type=float, default=0.0, help="orders/s, a load of its own")
    parser.add_argument("--reads-rate", type=float, default=0.0, help="voted reads/s, a load of its own")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
