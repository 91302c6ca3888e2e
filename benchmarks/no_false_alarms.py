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

from benchmarks.harness import lab_settings, run
from faultlab.core.histogram import LatencyHistogram
from faultlab.lab.load import LoadResult, OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor


async def paced_workers(session: aiohttp.ClientSession, make: object, rate: float, seconds: float,
                        workers: int) -> dict:
    """Closed loop, as the guide's load test: `workers` clients, each sending its next request when the previous
    one is answered, together at most `rate` per second. When the lab cannot keep up, fewer are sent (the achieved
    rate is reported) instead of a queue building up without end, as it does under an open loop past capacity."""
    counts = {"sent": 0, "ok": 0}
    latency = LatencyHistogram()
    start = time.perf_counter()
    slots = iter(range(10**9))

    async def worker() -> None:
        while True:
            at = start + next(slots) / rate
            if at - start >= seconds:
                return
            if (wait := at - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            request = make()  # type: ignore[operator]
            sent = time.perf_counter()
            counts["sent"] += 1
            try:
                async with session.request(request.method, request.url, data=request.body,
                                           headers={"Content-Type": "application/json"} if request.body else None,
                                           timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    await resp.read()
                    counts["ok"] += resp.status < 400
            except (aiohttp.ClientError, TimeoutError):
                pass
            latency.record((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker() for _ in range(workers)))
    wall = time.perf_counter() - start
    return {**counts, "rate": round(counts["sent"] / wall, 1), "p50": latency.percentile(50),
            "p99": latency.percentile(99)}


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
        async with Supervisor(lab_settings(Path(home), initial_stock=stock)) as lab:
            s = lab.settings
            async with aiohttp.ClientSession() as session:
                async def get(url: str) -> dict:
                    async with session.get(url) as resp:
                        return await resp.json()

                before = await get(f"{s.service_url('monitor')}/status")
                stats_before = await get(f"{s.service_url('voter')}/voting/stats")
                closed: list[tuple[str, dict]] = []
                if args.workers:
                    label = (f"closed loop, {args.workers} clients per kind, orders at up to {args.orders_rate:g}/s "
                             f"and voted reads at up to {args.reads_rate:g}/s")
                    started = time.time()
                    kinds = [(t, r) for t, r in (("orders", args.orders_rate), ("voted", args.reads_rate)) if r]
                    done = await asyncio.gather(*(paced_workers(session, request_factory(s, t, seed=7), r,
                                                                args.minutes * 60, args.workers) for t, r in kinds))
                    closed = [(t, d) for (t, _r), d in zip(kinds, done, strict=True)]
                    result = {"requests": sum(d["sent"] for _t, d in closed), "successful": sum(d["ok"] for _t, d in closed)}
                elif args.orders_rate or args.reads_rate:
                    loads = [OpenLoopLoad(request_factory(s, target, seed=7), rate=rate, duration_s=args.minutes * 60,
                                          target=target)
                             for target, rate in (("orders", args.orders_rate), ("voted", args.reads_rate)) if rate]
                    label = f"orders at {args.orders_rate:g}/s and voted reads at {args.reads_rate:g}/s"
                else:
                    loads = [OpenLoopLoad(request_factory(s, "mix", seed=7), rate=args.rate,
                                          duration_s=args.minutes * 60, target="mix")]
                    label = f"open-loop mix at {args.rate:g} req/s"
                if not args.workers:
                    started = time.time()
                    results: list[LoadResult] = await asyncio.gather(*(load.run(session) for load in loads))
                    result = merged(results)
                after = await get(f"{s.service_url('monitor')}/status")
                stats = await get(f"{s.service_url('voter')}/voting/stats")
                failures = await get(f"{s.service_url('monitor')}/failures")
    off = sum(a["transitions"]["OFF"] - b["transitions"]["OFF"] for a, b in zip(after["instances"], before["instances"], strict=True))
    flags = {r: (stats["replicas"][r]["wrong"] - stats_before["replicas"][r]["wrong"],
                 stats["replicas"][r]["slow"] - stats_before["replicas"][r]["slow"]) for r in stats["replicas"]}
    votes = stats["total_votes"] - stats_before["total_votes"]
    no_quorum = stats["quorum_not_reached"] - stats_before["quorum_not_reached"]
    episodes = [e for e in failures["failures"] if (e["detected_at"] or 0) >= started]
    print(f"{args.minutes:g} min of {label}, no fault injected")
    if closed:
        for target, d in closed:
            print(f"  {target}: {d['sent']} sent, {d['ok']} ok, achieved {d['rate']}/s, p50 {d['p50']} ms, "
                  f"p99 {d['p99']} ms")
    else:
        print(f"  requests {result['requests']}, success {result['success_rate']} %, p50 {result['p50_latency_ms']} ms,"
              f" p95 {result['p95_latency_ms']} ms, p99 {result['p99_latency_ms']} ms, errors {result['errors']}, "
              f"max send lag {result['max_send_lag_ms']} ms")
    print(f"  voted reads {votes}, without quorum {no_quorum} ({100 * (votes - no_quorum) / max(votes, 1):.3f} % quorum)")
    refused = {k: stats.get(k, 0) - stats_before.get(k, 0) for k in ("refused_older", "refused_stale", "stale_answers")}
    print(f"  of which below the floor {refused['refused_older']}, superseded longer than max_staleness_ms "
          f"({stats.get('max_staleness_ms')} ms) {refused['refused_stale']}; answered stale (within it) "
          f"{refused['stale_answers']}")
    print(f"  OFF transitions: {off}; detections: {len(episodes)}")
    reasons: dict[str, int] = {}
    for e in episodes:
        reasons[str(e.get("detected_by"))] = reasons.get(str(e.get("detected_by")), 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"    {n} x {reason}")
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
    parser.add_argument("--workers", type=int, default=0,
                        help="closed loop with this many clients per kind, paced to the rates above (as the guide's "
                             "load test: the lab is never asked for more than it answers); 0: open loop")
    raise SystemExit(run(main(parser.parse_args())))
