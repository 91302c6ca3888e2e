"""TTD and TTR per fault kind under a steady voted-read load, from the monitor's event timestamps.

Starts its own lab on free ports, keeps an open-loop load of voted reads running (100 req/s by
default), and for each fault kind injects it N times (rotating replicas), waits for detection, holds
it, clears it and waits for recovery. Prints median and spread of TTD and TTR, and how the voted reads
fared during each kind of fault compared with no fault.

    .venv/bin/python benchmarks/ttd_ttr.py [--reps 5] [--rate 100] [--kinds crash,hang,...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from faultlab.core.client import LabClient
from faultlab.core.histogram import LatencyHistogram
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor

FAULTS: dict[str, dict[str, Any]] = {
    "crash": {"kind": "crash"},
    "hang": {"kind": "hang"},
    "latency": {"kind": "latency", "latency_ms": 1200},
    "intermittent": {"kind": "intermittent", "probability": 0.3},
    "incorrect": {"kind": "incorrect", "product_id": "PROD-001"},
    "stale": {"kind": "stale"},
}


class Window:
    """Voted-read outcomes recorded while a window is open (per fault kind)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.timed: dict[str, float] = {}  # windows open until a wall time, besides the current one
        self.latency: dict[str, LatencyHistogram] = {}
        self.counts: dict[str, list[int]] = {}

    def open_for(self, label: str, seconds: float) -> None:
        self.timed[label] = time.time() + seconds

    def record(self, latency_ms: float, ok: bool, at: float) -> None:
        labels = [label for label, until in self.timed.items() if at < until]
        if self.current is not None:
            labels.append(self.current)
        for label in labels:
            self.latency.setdefault(label, LatencyHistogram()).record(latency_ms)
            counts = self.counts.setdefault(label, [0, 0])
            counts[0] += 1
            counts[1] += ok


async def wait_episode(client: LabClient, replica: int, since: float, field: str,
                       timeout_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        episodes = (await client.failures())["failures"]
        for e in reversed(episodes):
            if e["replica"] == replica and (e["activated_at"] or 0) >= since - 0.5 and e.get(field) is not None:
                return e
        await asyncio.sleep(0.05)
    return None


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (f"median {statistics.median(values):8.1f}  min {min(values):8.1f}  max {max(values):8.1f}"
            f"  (n={len(values)})")


async def main(args: argparse.Namespace) -> int:
    kinds = args.kinds.split(",")
    with tempfile.TemporaryDirectory() as home:
        settings = lab_settings(Path(home))
        async with Supervisor(settings) as lab:
            s = lab.settings
            window = Window()
            load = OpenLoopLoad(request_factory(s, "voted", seed=1), rate=args.rate, duration_s=24 * 3600,
                                target="voted", timeout_s=2.0, on_complete=window.record)
            results: dict[str, dict[str, list[float]]] = {}
            async with LabClient(s) as client:
                await spares_settled(lab)  # first, or the spares' imports would inflate the no-fault baseline
                load_task = asyncio.create_task(load.run())
                try:
                    await asyncio.sleep(2)
                    window.current = "no fault"
                    await asyncio.sleep(args.baseline_s)
                    window.current = None
                    for kind in kinds:
                        results[kind] = {"ttd": [], "ttr": []}
                        for rep in range(args.reps):
                            replica = s.replica_ids[rep % len(s.replica_ids)]
                            await lab.wait_working(30)
                            since = time.time()
                            window.current = kind
                            if kind == "crash":  # the crash period is short now: also the 2 s after the crash
                                window.open_for("crash +2 s", 2.0)
                            await client.inject(replica, FAULTS[kind])  # ApiCallError unless accepted
                            detected = await wait_episode(client, replica, since, "detected_at", 10)
                            if kind != "crash":
                                await asyncio.sleep(args.hold_s)
                                await client.clear(replica)
                            recovered = await wait_episode(client, replica, since, "recovered_at", 15)
                            window.current = None
                            ttd = detected["ttd_ms"] if detected else None
                            ttr = recovered["ttr_ms"] if recovered else None
                            if ttd is not None:
                                results[kind]["ttd"].append(ttd)
                            if ttr is not None:
                                results[kind]["ttr"].append(ttr)
                            print(f"{kind:13s} rep {rep + 1} replica {replica}: TTD {ttd} ms, TTR {ttr} ms",
                                  flush=True)
                            await asyncio.sleep(1.0)
                finally:
                    load.stop()
                    await load_task
    print()
    print(f"TTD / TTR in ms under {args.rate:g} voted reads/s ({args.reps} repetitions per fault)")
    for kind, r in results.items():
        print(f"  {kind:13s} TTD {spread(r['ttd'])}")
        print(f"  {'':13s} TTR {spread(r['ttr'])}")
    print()
    print("voted reads during each fault (from the load generator, latency from intended send time)")
    base_p95 = window.latency["no fault"].percentile(95) if "no fault" in window.latency else None
    for name, hist in window.latency.items():
        total, ok = window.counts[name]
        p95 = hist.percentile(95)
        ratio = f"{p95 / base_p95:5.2f}x no-fault" if base_p95 and p95 else ""
        print(f"  {name:13s} {total:6d} reads  success {100 * ok / total:7.3f} %  p50 {hist.percentile(50):7.2f} ms"
              f"  p95 {p95:7.2f} ms  {ratio}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--hold-s", type=float, default=1.5)
    parser.add_argument("--baseline-s", type=float, default=10.0)
    parser.add_argument("--kinds", default="crash,hang,latency,intermittent,incorrect")
    raise SystemExit(run(main(parser.parse_args())))
