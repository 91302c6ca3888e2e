"""The independent observer's cost and its ground-truth resolution, on faultlab's own shop (a lab on free ports).

Overhead, side by side in one run: the lab's CPU over `--seconds` with no observer, then with the observer probing
every replica's health and data every 20 ms and polling the monitor every 20 ms; the observer's own CPU (this
process's, nothing else running in it); the requests/s it adds; and, with an open-loop voted-read load running, the
reads' p50 / p99 without and with it. Resolution: `--reps` faults of each kind through the shop's fault API, each
told to the observer at the shop's own activation moment; the spread from that activation to the observer's first
sight of the fault (a failed, timed-out or wrong probe), and the difference between the TTD the observer measures by
polling the monitor and the TTD the monitor recorded itself for the same episode.

    .venv/bin/python benchmarks/observer.py [--seconds 10] [--reps 3] [--rate 100]
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.core import spares_settled
from benchmarks.harness import lab_settings, run
from faultlab.core.client import LabClient
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.lab.observer import Observer, Target
from faultlab.lab.systems.contract import guide_contract, monitor_states, products_of
from faultlab.runtime.supervisor import Supervisor

FAULTS: dict[str, dict[str, Any]] = {
    "crash": {"kind": "crash"},
    "latency": {"kind": "latency", "latency_ms": 1200},
    "intermittent": {"kind": "intermittent", "probability": 0.3},
    "incorrect": {"kind": "incorrect", "product_id": "PROD-001"},
}


def lab_cpu_s() -> float:
    """CPU seconds used so far by every process this benchmark started (the lab and its warm spares)."""
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def observer_for(lab: Supervisor) -> Observer:
    """The observer the guide system would build for this shop (its contract's paths and answers)."""
    s = lab.settings
    contract = guide_contract(replicas={"urls": [s.replica_url(r) for r in s.replica_ids]},
                              monitor={"url": s.service_url("monitor")})
    targets = [Target(r, f"{s.replica_url(r)}/health", f"{s.replica_url(r)}/inventory") for r in s.replica_ids]

    def values(data: Any) -> dict[str, Any]:
        return {p: (v.available, v.reserved, v.position) for p, v in products_of(data, "inventory",
                                                                                  contract.fields).items()}

    def states(data: Any) -> dict[int, str]:
        return {n: st["status"] for n, st in monitor_states(data, contract.monitor, len(s.replica_ids)).items()}

    return Observer(targets, values, f"{s.service_url('monitor')}/status", states)


async def window(seconds: float, lab_settings_: Any, rate: float | None) -> dict[str, float]:
    """Lab CPU (% of one core), this process's CPU and, with a load, the voted reads' p50 / p99 over `seconds`."""
    load = None
    task = None
    if rate:
        load = OpenLoopLoad(request_factory(lab_settings_, "voted", seed=1), rate, seconds, target="voted")
        task = asyncio.create_task(load.run())
    lab0, own0, wall0 = lab_cpu_s(), time.process_time(), time.perf_counter()
    if task is not None:
        await task
    else:
        await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall0
    out = {"lab_cpu_pct": 100 * (lab_cpu_s() - lab0) / wall, "own_cpu_pct": 100 * (time.process_time() - own0) / wall}
    if load is not None:
        summary = load.result.latency.summary()
        out.update(p50_ms=summary["p50"], p99_ms=summary["p99"], ok_pct=100 * load.result.ok / max(1, load.result.sent))
    return out


async def overhead(lab: Supervisor, seconds: float, rate: float) -> None:
    s = lab.settings
    idle = await window(seconds, s, None)
    loaded = await window(seconds, s, rate)
    observer = observer_for(lab)
    await observer.start()
    try:
        requests0, started = observer.requests, time.perf_counter()
        watched = await window(seconds, s, None)
        rps = (observer.requests - requests0) / (time.perf_counter() - started)
        watched_loaded = await window(seconds, s, rate)
    finally:
        await observer.stop()
    print(f"\noverhead ({seconds:g} s windows, side by side):")
    print(f"  requests the observer adds: {rps:,.0f} /s (health + data of {len(s.replica_ids)} replicas and the "
          "monitor's status, every 20 ms)")
    print(f"  the observer's own CPU (this process, nothing else in it): {watched['own_cpu_pct']:.1f} % of one core")
    print(f"  the lab's CPU, idle: {idle['lab_cpu_pct']:.1f} % without the observer, {watched['lab_cpu_pct']:.1f} % "
          f"with it ({watched['lab_cpu_pct'] / max(0.1, idle['lab_cpu_pct']):.2f}×)")
    print(f"  voted reads at {rate:g}/s: p50 {loaded['p50_ms']:.2f} → {watched_loaded['p50_ms']:.2f} ms "
          f"({watched_loaded['p50_ms'] / loaded['p50_ms']:.2f}×), p99 {loaded['p99_ms']:.2f} → "
          f"{watched_loaded['p99_ms']:.2f} ms ({watched_loaded['p99_ms'] / loaded['p99_ms']:.2f}×); lab CPU "
          f"{loaded['lab_cpu_pct']:.1f} → {watched_loaded['lab_cpu_pct']:.1f} %; ok {loaded['ok_pct']:.2f} → "
          f"{watched_loaded['ok_pct']:.2f} %")


async def resolution(lab: Supervisor, reps: int) -> None:
    s = lab.settings
    observer = observer_for(lab)
    seen: dict[str, list[float]] = {}
    polled: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    await observer.start()
    try:
        async with LabClient(s) as client:
            await asyncio.sleep(1.0)
            for kind, fault in FAULTS.items():
                for rep in range(reps):
                    replica = s.replica_ids[rep % len(s.replica_ids)]
                    sent_at = time.time()
                    answer = await client.inject(replica, dict(fault))
                    activated = float(answer["fault"]["activated_at"])
                    observer.injected(replica, kind, answer["fault"], activated, sent_at)
                    episode = await observer.wait_episode(replica, sent_at, "detected_at", 10)
                    await asyncio.sleep(0.5)  # the observer's sight may come after the monitor's
                    found = observer.book.latest(replica, sent_at, "activated_at") or {}
                    if kind != "crash":
                        cleared = await client.clear(replica)
                        at = float(cleared.get("cleared_at") or time.time())
                        observer.cleared(replica, at, time.time())
                    await observer.wait_episode(replica, sent_at, "recovered_at" if kind != "crash" else
                                                "detected_at", 15)
                    await lab.wait_working(30)
                    if found.get("observer_ttd_ms") is not None:
                        seen.setdefault(kind, []).append(found["observer_ttd_ms"])
                    else:
                        missed[kind] = missed.get(kind, 0) + 1
                    native = [e for e in (await client.failures())["failures"] if e["replica"] == replica
                              and e.get("activated_at") and abs(e["activated_at"] - activated) < 1.0]
                    if episode is not None and native and native[-1].get("ttd_ms") is not None:
                        polled.setdefault(kind, []).append(episode["ttd_ms"] - native[-1]["ttd_ms"])
                    await asyncio.sleep(1.0)
    finally:
        await observer.stop()
    print(f"\nground truth ({reps} faults per kind, through the shop's fault API; activation = the shop's own):")
    for kind in FAULTS:
        values = seen.get(kind, [])
        diffs = polled.get(kind, [])
        sight = (f"{statistics.median(values):.1f} ms [{min(values):.1f}–{max(values):.1f}]" if values else "-")
        poll = (f"{statistics.median(diffs):+.1f} ms [{min(diffs):+.1f} – {max(diffs):+.1f}]" if diffs else "-")
        print(f"  {kind:13} activation → the observer's first sight: {sight}; polled TTD − the monitor's own TTD: "
              f"{poll}" + (f"; not seen ×{missed[kind]}" if kind in missed else ""))


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home))) as lab:
            await spares_settled(lab)
            print(f"lab ready; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
                  f"{' '.join(f'{x:.2f}' for x in psutil.getloadavg())}")
            await overhead(lab, args.seconds, args.rate)
            await resolution(lab, args.reps)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each overhead window")
    parser.add_argument("--reps", type=int, default=3, help="faults of each kind for the resolution")
    parser.add_argument("--rate", type=float, default=100.0, help="voted reads/s in the loaded windows")
    sys.exit(run(main(parser.parse_args())))
