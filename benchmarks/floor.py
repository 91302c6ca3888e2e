"""Voted reads that never go back and bounded staleness (issue 22), on a lab of its own: the scenarios of
tests/integration/test_floor.py repeated, with their figures, plus the staleness the read-history checker measures
under a steady load.

1. The voter killed with -9 under a stale + hung pair (`--reps` times, staleness bound an hour so that only the floor
   can refuse): answers before the kill, while the warm spare takes over, after; 200s below the floor (target 0);
   how long until the new voter answered.
2. Reads around the bound (the lab's own `max_staleness_ms`, 500): replica 1 stale, replica 3 hung, one order applied
   by replica 2 at t; voted reads begun at t + each of `--offsets-ms` (`--reps` times): 200 or 503 per offset, and how
   much later than its intended moment the voter judged each read (the client-to-voter delay: the ε a test needs).
3. A steady open-loop load (`--orders-rate` orders/s and `--reads-rate` voted reads/s for `--load-s`), then the data
   check: reads without quorum, and the staleness of every voted read (p50, p99, max, over the bound).

    .venv/bin/python benchmarks/floor.py [--reps 3] [--offsets-ms 300,450,550,700] [--load-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from faultlab.lab.checkers import check_data
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor
from tests.floor_scenarios import Answer, reads_around_the_bound, voter_killed_under_stale_and_hung

STOCK = {"PROD-001": 10_000_000, "PROD-002": 10_000_000, "PROD-003": 10_000_000}
PRODUCT = "PROD-003"


def statuses(answers: list[Answer]) -> str:
    counts = Counter("no answer" if a.status is None else str(a.status) for a in answers)
    return ", ".join(f"{n} × {s}" for s, n in sorted(counts.items())) or "none"


async def kill_scenario(http: aiohttp.ClientSession, lab: Supervisor, reps: int) -> int:
    await lab.reset({"max_staleness_ms": 3_600_000}, keep_data=True)
    print("1. voter killed with -9 under a stale + hung pair (max_staleness_ms 3,600,000: only the floor refuses)")
    bad = 0
    takeovers = []
    try:
        for rep in range(1, reps + 1):
            f = await voter_killed_under_stale_and_hung(http, lab, PRODUCT)
            below = f.below_floor_200()
            bad += len(below)
            takeovers.append(f.takeover_s)
            reasons = Counter(code for a in [*f.before_kill, *f.after_takeover] for code in a.reasons)
            print(f"   #{rep}: stale replica at {f.first_position}, newest {f.newest} (answered "
                  f"{f.answered_newest.status}); before the kill {statuses(f.before_kill)}; while the spare took over "
                  f"{statuses(f.during_takeover)}; after {statuses(f.after_takeover)}; reasons {dict(reasons)}; "
                  f"new voter answering {f.takeover_s:.2f} s after the kill; 200 below the floor: {len(below)}; "
                  f"hang cleared: {f.after_clear.status} at {f.after_clear.body.get('position')}", flush=True)
    finally:
        await lab.reset(None, keep_data=True)
    print(f"   200 below the floor: {bad} (target 0); kill to first answer of the new voter: median "
          f"{statistics.median(takeovers):.2f} s, max {max(takeovers):.2f} s")
    return bad


async def bound_scenario(http: aiohttp.ClientSession, lab: Supervisor, reps: int, offsets_ms: list[int]) -> int:
    bound = lab.settings.max_staleness_ms
    print(f"2. voted reads begun at t + offset, t = when replica 2 applied the superseding version "
          f"(max_staleness_ms {bound}; replica 1 stale, replica 3 hung)")
    by_offset: dict[int, list[Answer]] = {o: [] for o in offsets_ms}
    for _rep in range(reps):
        f = await reads_around_the_bound(http, lab, PRODUCT, offsets_ms)
        for offset, answer in f.reads:
            by_offset[offset].append(answer)
    wrong = 0
    for offset, answers in sorted(by_offset.items()):
        judged = [a.body.get("staleness_ms") if a.status == 200 else
                  next((r.get("staleness_ms") for r in a.body.get("reasons", []) if r.get("code") == "superseded"),
                       None) for a in answers]
        delays = [j - offset for j in judged if j is not None]
        expected = 200 if offset <= bound else 503
        wrong += sum(1 for a in answers if a.status != expected)
        print(f"   offset {offset:5d} ms ({'inside' if offset <= bound else 'beyond'} the bound): "
              f"{statuses(answers)} (expected {expected}); judged at staleness {judged} ms; client-to-voter delay "
              f"median {statistics.median(delays) if delays else float('nan'):.0f} ms, max "
              f"{max(delays) if delays else float('nan'):.0f} ms", flush=True)
    print(f"   answers other than expected: {wrong}")
    return wrong


async def load_scenario(lab: Supervisor, http: aiohttp.ClientSession, seconds: float, orders_rate: float,
                        reads_rate: float) -> int:
    s = lab.settings
    print(f"3. {seconds:g} s of {orders_rate:g} orders/s and {reads_rate:g} voted reads/s (open loop), no fault, "
          f"then the data check")
    loads = [OpenLoopLoad(request_factory(s, target, seed=7), rate=rate, duration_s=seconds, target=target)
             for target, rate in (("orders", orders_rate), ("voted", reads_rate)) if rate]
    stats_url = f"{s.service_url('voter')}/voting/stats"
    async with http.get(stats_url) as resp:
        before = await resp.json()
    results = await asyncio.gather(*(load.run(http) for load in loads))
    async with http.get(stats_url) as resp:
        after = await resp.json()
    counts = {k: after[k] - before[k] for k in ("total_votes", "quorum_not_reached", "refused_older", "refused_stale",
                                                 "stale_answers")}
    reads = [r for result in results for r in result.reads]
    accepted = [i for result in results for i in result.accepted_order_ids]
    for result in results:
        d = result.describe()
        print(f"   {result.target}: {d['requests']} sent, success {d['success_rate']} %, p50 {d['p50_latency_ms']} ms, "
              f"p99 {d['p99_latency_ms']} ms, errors {d['errors']}")
    print(f"   the voter: {counts['total_votes']} votes, {counts['quorum_not_reached']} without quorum, of which "
          f"{counts['refused_older']} below the floor and {counts['refused_stale']} superseded longer than the bound "
          f"ago; {counts['stale_answers']} answered stale within it")
    verdict = await check_data(s, accepted, reads=reads)
    rh = verdict["checks"]["read_history"]
    st = rh["staleness"]
    print(f"   data check {verdict['valid']}; read history {rh['valid']}: {rh['answered_200']} voted reads answered, "
          f"{rh['not_answered']} not, {rh['violations']} violations ({rh['older_than_acknowledged']} older than "
          f"acknowledged, {st['over_bound']} over the bound)")
    print(f"   staleness by the replicas' tables (behind the newest write a majority had applied when the read began): "
          f"p50 {st['p50_ms']} ms, p99 {st['p99_ms']} ms, max {st['max_ms']} ms over {st['measured']} reads "
          f"({st['unmeasured']} unmeasured); bound {st['max_staleness_ms']} ms")
    return 0 if verdict["valid"] is True else 1


async def main(args: argparse.Namespace) -> int:
    offsets = [int(o) for o in args.offsets_ms.split(",")]
    print(f"benchmarks/floor.py on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home), initial_stock=STOCK)) as lab:
            await spares_settled(lab)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                failed = await kill_scenario(http, lab, args.reps)
                failed += await bound_scenario(http, lab, args.reps, offsets)
                if args.load_s:
                    failed += await load_scenario(lab, http, args.load_s, args.orders_rate, args.reads_rate)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--offsets-ms", default="300,450,550,700",
                        help="offsets from the superseding apply at which reads begin (the default bound is 500)")
    parser.add_argument("--load-s", type=float, default=30.0, help="seconds of steady load (0: none)")
    parser.add_argument("--orders-rate", type=float, default=500.0)
    parser.add_argument("--reads-rate", type=float, default=300.0)
    raise SystemExit(run(main(parser.parse_args())))
