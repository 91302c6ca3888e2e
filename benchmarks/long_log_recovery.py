"""Crash recovery does not grow with the log: crash TTR on a fresh lab, then after N events in the log.

Starts its own lab on free ports under a light voted-read load, crashes each replica in turn (`--reps`
times) and takes the TTR from the monitor's episodes (the warm spare takes over, loads its committed
state, checks its stored offset is still in the log, catches up). Then it writes N restock events into the
outbox at once (`--events`, default 200,000: the relay publishes them in batches, every replica applies
them) and crashes again. The ratio of the medians is the figure; a replica that re-read the log from the
start after a crash would show it here.

    .venv/bin/python benchmarks/long_log_recovery.py [--events 200000] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from benchmarks.ttd_ttr import wait_episode
from faultlab.core.client import LabClient
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor


async def crash_ttrs(lab: Supervisor, client: LabClient, reps: int, label: str) -> list[float]:
    s = lab.settings
    ttrs: list[float] = []
    for rep in range(reps):
        replica = s.replica_ids[rep % len(s.replica_ids)]
        await lab.wait_working(60)
        await spares_settled(lab)  # each crash is taken over by a ready warm spare
        since = time.time()
        await client.inject(replica, {"kind": "crash"})  # ApiCallError unless accepted
        recovered = await wait_episode(client, replica, since, "recovered_at", 60)
        health = await client.health(f"inventory-{replica}")
        ttr = recovered["ttr_ms"] if recovered else None
        print(f"{label}: crash of replica {replica}: TTR {ttr} ms (broker resets seen by the new process "
              f"{health.get('broker_resets')}, rescans {health.get('gap_rescans')}, applied {health.get('applied_seq')})",
              flush=True)
        if ttr is not None:
            ttrs.append(ttr)
    return ttrs


async def fill_log(lab: Supervisor, events: int) -> float:
    """Write `events` restock events into the outbox; seconds until every replica applied them."""
    started = time.perf_counter()
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        for done in range(0, events, 50_000):
            await conn.execute(
                """INSERT INTO orders.outbox (order_id, event_type, product_id, quantity)
                   SELECT gen_random_uuid(), 'restock', 'PROD-002', 1 FROM generate_series(1, $1)""",
                min(50_000, events - done))
        end = await conn.fetchval("SELECT count(*) FROM orders.outbox")
        while True:
            positions = [await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position")
                         for r in lab.settings.replica_ids]
            print(f"  log filling: replicas at {positions} of {end}", end="\r", flush=True)
            if all(p >= end for p in positions):
                break
            await asyncio.sleep(1.0)
    finally:
        await conn.close()
    print()
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home))) as lab:
            load = OpenLoopLoad(request_factory(lab.settings, "voted", seed=3), rate=args.rate, duration_s=24 * 3600,
                                target="voted")
            async with LabClient(lab.settings) as client:
                task = asyncio.create_task(load.run())
                try:
                    fresh = await crash_ttrs(lab, client, args.reps, "fresh lab")
                    took = await fill_log(lab, args.events)
                    print(f"{args.events} events applied by every replica in {took:.1f} s", flush=True)
                    long = await crash_ttrs(lab, client, args.reps, f"{args.events} events in the log")
                finally:
                    load.stop()
                    await task
    if not fresh or not long:
        print("a crash did not recover: no ratio")
        return 1
    ratio = statistics.median(long) / statistics.median(fresh)
    print()
    print(f"crash TTR median, fresh lab: {statistics.median(fresh):.0f} ms {sorted(round(v) for v in fresh)}")
    print(f"crash TTR median, {args.events} events in the log: {statistics.median(long):.0f} ms "
          f"{sorted(round(v) for v in long)}")
    print(f"ratio {ratio:.2f} (target <= 1.5)")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="voted reads/s throughout")
    raise SystemExit(run(main(parser.parse_args())))
