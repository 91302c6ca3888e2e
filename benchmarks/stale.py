"""Stale replica: TTD and TTR at a light and a busy order rate, and no false alarm at either.

Starts its own lab on free ports (ample stock, so every order is a real change). For each order rate it
first runs the orders alone for `--quiet-s` seconds and counts OFF transitions (a healthy replica must stay
ON: none expected), then, `--reps` times (rotating replicas), makes one replica stale (it stops applying the
log and keeps answering), waits for the monitor's detection, holds the fault, clears it and waits for the
replica to be ON and caught up. TTD counts from the fault's acknowledgement, TTR from the clear, both from
the monitor's episode timestamps.

    .venv/bin/python benchmarks/stale.py [--rates 1,20] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from benchmarks.ttd_ttr import wait_episode
from faultlab.core.client import LabClient
from faultlab.lab.load import OpenLoopLoad, Request
from faultlab.runtime.supervisor import Supervisor

STOCK = {"PROD-001": 10_000_000, "PROD-002": 10_000_000, "PROD-003": 10_000_000}


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):7.0f}  min {min(values):7.0f}  max {max(values):7.0f}  (n={len(values)})"


async def off_transitions(client: LabClient) -> int:
    status = await client.monitor_status()
    return sum(i["transitions"].get("OFF", 0) for i in status["instances"])


async def main(args: argparse.Namespace) -> int:
    rates = [float(r) for r in args.rates.split(",")]
    summary: dict[float, dict[str, list[float] | int]] = {}
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home), initial_stock=STOCK)) as lab:
            s = lab.settings
            print(f"stale_after_ms {s.stale_after_ms} (after a quiet log), stale_after_busy_ms "
                  f"{s.stale_after_busy_ms} (while events flow), caught_up_ms {s.caught_up_ms}", flush=True)
            await spares_settled(lab)
            async with LabClient(s) as client:
                for rate in rates:
                    body = orjson.dumps({"product_id": "PROD-001", "quantity": 1})
                    load = OpenLoopLoad(lambda b=body: Request("POST", f"{s.service_url('orders')}/orders", b,
                                                                kind="order"), rate=rate, duration_s=24 * 3600,
                                        target="orders", timeout_s=5.0)
                    task = asyncio.create_task(load.run())
                    try:
                        await lab.wait_working(30)
                        before = await off_transitions(client)
                        await asyncio.sleep(args.quiet_s)
                        false_off = await off_transitions(client) - before
                        ttds: list[float] = []
                        ttrs: list[float] = []
                        for rep in range(args.reps):
                            replica = s.replica_ids[rep % len(s.replica_ids)]
                            await lab.wait_working(30)
                            await asyncio.sleep(args.settle_s)
                            since = time.time()
                            await client.inject(replica, {"kind": "stale"})  # ApiCallError unless accepted
                            detected = await wait_episode(client, replica, since, "detected_at", 15)
                            await asyncio.sleep(args.hold_s)
                            await client.clear(replica)
                            recovered = await wait_episode(client, replica, since, "recovered_at", 15)
                            ttd = detected["ttd_ms"] if detected else None
                            ttr = recovered["ttr_ms"] if recovered else None
                            if ttd is not None:
                                ttds.append(ttd)
                            if ttr is not None:
                                ttrs.append(ttr)
                            print(f"{rate:5g} orders/s rep {rep + 1} replica {replica}: TTD {ttd} ms, TTR {ttr} ms",
                                  flush=True)
                        summary[rate] = {"ttd": ttds, "ttr": ttrs, "false_off": false_off,
                                         "missed": args.reps - len(ttds)}
                    finally:
                        load.stop()
                        await task
    print()
    print(f"stale replica, {args.reps} repetitions per rate (TTD from the fault's acknowledgement, TTR from the clear)")
    for rate, r in summary.items():
        print(f"  {rate:5g} orders/s  TTD {spread(r['ttd'])}  not detected {r['missed']}")  # type: ignore[arg-type]
        print(f"  {'':15s}  TTR {spread(r['ttr'])}")  # type: ignore[arg-type]
        print(f"  {'':15s}  OFF transitions in {args.quiet_s:g} s without a fault: {r['false_off']}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="1,20", help="order rates to measure at, comma-separated (default 1,20)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--hold-s", type=float, default=1.0, help="seconds the fault is held after its detection")
    parser.add_argument("--settle-s", type=float, default=2.0, help="seconds of orders before each fault")
    parser.add_argument("--quiet-s", type=float, default=30.0, help="seconds without a fault, counting OFF transitions")
    raise SystemExit(run(main(parser.parse_args())))
