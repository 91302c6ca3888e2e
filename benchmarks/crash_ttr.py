"""Crash TTR over many crashes: its distribution, idle and under a light load, and where each crash's time went.

Starts its own lab on free ports and, for each load (`--rates`, requests/s of the shop's mix of orders and voted
reads; 0 = idle), crashes the replicas in turn `--crashes` times, each one taken over by a ready warm spare. TTR is
the monitor's episode: from the death the supervisor saw to the replica ON again and caught up. The monitor's
observation trace (the detector study's recording) splits each crash into the death, the refusals while the
successor started, the successor's first answer and the ON; a crash not recovered within `--timeout-s` counts as a
miss, never left out. Prints each crash, then per load p50 / p95 / max and a histogram.

    .venv/bin/python benchmarks/crash_ttr.py [--crashes 40] [--rates 0,50]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from benchmarks.ttd_ttr import wait_episode
from faultlab.core.client import LabClient
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor

BIN_MS = 25.0


def nearest_rank(values: list[float], q: float) -> float:
    """The q-quantile (0 < q <= 1) by nearest rank: a value that was measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def histogram(values: list[float], bin_ms: float = BIN_MS) -> list[str]:
    """One line per bin of `bin_ms` from the lowest to the highest value, with a bar."""
    counts = Counter(int(v // bin_ms) for v in values)
    lines = []
    for b in range(min(counts), max(counts) + 1):
        lines.append(f"    {b * bin_ms:5.0f}-{(b + 1) * bin_ms:<5.0f} ms {counts[b]:3d} {'#' * counts[b]}")
    return lines


class Trace:
    """The monitor's observations, read as they come (the operator's trace API)."""

    def __init__(self, client: LabClient) -> None:
        self.client = client
        self.next = 0
        self.kept: list[dict[str, Any]] = []

    async def open(self) -> None:
        await self.client.send("POST", self.client.url("monitor", "/trace"), {"lease_s": 120}, auth=True)
        await self.read()
        self.kept = []

    async def read(self) -> None:
        while True:
            _status, body = await self.client.send(
                "GET", self.client.url("monitor", f"/trace?since={self.next}&limit=5000"), auth=True)
            entries = body["observations"]
            self.kept.extend(entries)
            self.next = body["next"]
            if len(entries) < 5000:
                return

    async def close(self) -> None:
        await self.client.send("DELETE", self.client.url("monitor", "/trace"), auth=True)

    def split(self, replica: int, died_at: float, on_at: float) -> dict[str, Any]:
        """What the monitor saw of one crash: refusals before the successor's first answer, and that answer."""
        seen = [o for o in self.kept if o.get("replica") == replica and died_at <= o["t"] <= on_at + 0.001]
        first = next((o for o in seen if o["kind"] == "health"), None)
        before = [o for o in seen if first is None or o["t"] < first["t"]]
        return {"refusals": sum(1 for o in before if o["kind"] in ("refused", "error", "timeout")),
                "first_answer_ms": round((first["t"] - died_at) * 1000, 1) if first else None,
                "answers_to_on": sum(1 for o in seen if first is not None and o["t"] >= first["t"]
                                     and o["kind"] in ("health", "agree"))}


async def crash_series(lab: Supervisor, client: LabClient, trace: Trace, crashes: int, label: str,
                       timeout_s: float) -> tuple[list[float], int]:
    """Crash the replicas in turn; (TTRs in ms, misses)."""
    s = lab.settings
    ttrs: list[float] = []
    misses = 0
    for rep in range(crashes):
        replica = s.replica_ids[rep % len(s.replica_ids)]
        await lab.wait_working(60)
        await spares_settled(lab)  # a warm spare is ready: the crash measured is the takeover, not a cold start
        await asyncio.sleep(0.3)
        since = time.time()
        await client.inject(replica, {"kind": "crash"})  # ApiCallError unless accepted
        episode = await wait_episode(client, replica, since, "recovered_at", timeout_s)
        if episode is None or episode.get("ttr_ms") is None:
            misses += 1
            print(f"  {label} crash {rep + 1:3d} replica {replica}: NOT RECOVERED within {timeout_s:g} s", flush=True)
            continue
        await trace.read()
        parts = trace.split(replica, episode["cleared_at"], episode["recovered_at"])
        ttrs.append(episode["ttr_ms"])
        print(f"  {label} crash {rep + 1:3d} replica {replica}: TTR {episode['ttr_ms']:7.1f} ms  "
              f"(refusals {parts['refusals']}, first answer {parts['first_answer_ms']} ms, "
              f"answers to ON {parts['answers_to_on']})", flush=True)
    return ttrs, misses


def summary(label: str, ttrs: list[float], misses: int, target_ms: float) -> list[str]:
    if not ttrs:
        return [f"{label}: no crash recovered ({misses} misses)"]
    p95 = nearest_rank(ttrs, 0.95)
    verdict = "met" if p95 <= target_ms and not misses else "NOT met"
    return [f"{label}: {len(ttrs)} crashes recovered, {misses} missed; TTR p50 {nearest_rank(ttrs, 0.5):.1f} ms, "
            f"p95 {p95:.1f} ms, max {max(ttrs):.1f} ms, min {min(ttrs):.1f} ms  (target p95 <= {target_ms:g} ms: "
            f"{verdict})", *histogram(ttrs)]


async def main(args: argparse.Namespace) -> int:
    rates = [float(r) for r in args.rates.split(",")]
    lines: list[str] = []
    all_met = True
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home))) as lab, LabClient(lab.settings) as client:
            s = lab.settings
            trace = Trace(client)
            await trace.open()
            try:
                for rate in rates:
                    label = "idle" if rate == 0 else f"{rate:g} req/s"
                    load = task = None
                    if rate > 0:
                        load = OpenLoopLoad(request_factory(s, "mix", seed=1, order_ratio=args.order_ratio), rate,
                                            24 * 3600, target="mix", timeout_s=2.0)
                        task = asyncio.create_task(load.run())
                        await asyncio.sleep(2.0)
                    try:
                        ttrs, misses = await crash_series(lab, client, trace, args.crashes, label, args.timeout_s)
                    finally:
                        if load is not None and task is not None:
                            load.stop()
                            await task
                    lines += summary(label, ttrs, misses, args.target_ms)
                    all_met &= bool(ttrs) and not misses and nearest_rank(ttrs, 0.95) <= args.target_ms
            finally:
                await trace.close()
    print()
    print(f"crash TTR (death -> ON and caught up, the monitor's episodes), {args.crashes} crashes per load, "
          f"replicas in turn, a ready warm spare each time; mix with {args.order_ratio:.0%} orders")
    print("\n".join(lines))
    return 0 if all_met or not args.strict else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crashes", type=int, default=40, help="crashes per load (default 40)")
    parser.add_argument("--rates", default="0,50", help="loads to crash under, requests/s of the mix; 0 = idle "
                                                         "(default 0,50)")
    parser.add_argument("--order-ratio", type=float, default=0.5, help="share of orders in the mix (default 0.5)")
    parser.add_argument("--timeout-s", type=float, default=15.0, help="a crash not recovered by then is a miss")
    parser.add_argument("--target-ms", type=float, default=200.0, help="the p95 target (default 200 ms)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a load misses the target")
    raise SystemExit(run(main(parser.parse_args())))
