"""A partitioned replica under voted-read load: the voter's sockets stay bounded, the healthy replicas stay clean.

Starts a namespace lab (root: one network namespace per service), keeps an open-loop load of voted reads
(100/s by default), cuts replica 3 off the network for `--seconds` (60), and samples every second the voter's
sockets towards it (a connect under a partition gets no answer: each is bounded by the connect timeout and
the cap per replica, never left in SYN-SENT for minutes). Prints the peak, the voter's failures charged to
the healthy replicas and their OFF transitions (0 expected), the read success rate, then heals and checks
that nothing is left waiting.

    sudo .venv/bin/python benchmarks/partition.py [--seconds 60] [--rate 100]
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
from faultlab.core import netns
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor

REPLICA = 3


async def main(args: argparse.Namespace) -> int:
    reason = netns.unavailable_reason()
    if reason:
        print(f"the namespace lab cannot run here: {reason}")
        return 2
    with tempfile.TemporaryDirectory() as home:
        async with Supervisor(lab_settings(Path(home)), netns=True) as lab:
            assert lab.network is not None
            s = lab.settings
            sup = f"http://127.0.0.1:{s.supervisor_port}/netfaults"
            auth = {"Authorization": f"Bearer {s.admin_token}"}
            target = f"inventory-{REPLICA}"
            async with aiohttp.ClientSession() as http:
                async def get(url: str) -> dict:
                    async with http.get(url) as resp:
                        return dict(await resp.json())

                load = OpenLoopLoad(request_factory(s, "voted", seed=2), rate=args.rate,
                                    duration_s=args.seconds + 10, target="voted")
                task = asyncio.create_task(load.run(http))
                await asyncio.sleep(2)
                stats_before = await get(f"{s.service_url('voter')}/voting/stats")
                status_before = await get(f"{s.service_url('monitor')}/status")
                async with http.post(sup, json={"kind": "partition", "instance": REPLICA}, headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                peak: dict[str, int] = {}
                started = time.monotonic()
                while time.monotonic() - started < args.seconds:
                    await asyncio.sleep(1.0)
                    states = await asyncio.to_thread(lab.network.sockets, "voter", target)
                    for state, n in states.items():
                        peak[state] = max(peak.get(state, 0), n)
                    print(f"  {time.monotonic() - started:5.1f} s  voter sockets to replica {REPLICA}: {states}",
                          end="\r", flush=True)
                print()
                stats = await get(f"{s.service_url('voter')}/voting/stats")
                status = await get(f"{s.service_url('monitor')}/status")
                async with http.delete(f"{sup}?instance={REPLICA}", headers=auth) as resp:
                    assert resp.status == 200
                await asyncio.sleep(2.0)
                left = await asyncio.to_thread(lab.network.sockets, "voter", target)
                load.stop()
                result = (await task).describe()
    healthy = [str(r) for r in s.replica_ids if r != REPLICA]
    charged = {r: {k: v - stats_before["replicas"][r]["failures"].get(k, 0)
                   for k, v in stats["replicas"][r]["failures"].items()} for r in healthy}
    off = {i["replica"]: i["transitions"].get("OFF", 0) - b["transitions"].get("OFF", 0)
           for i, b in zip(status["instances"], status_before["instances"], strict=True) if str(i["replica"]) in healthy}
    print(f"partition of replica {REPLICA} for {args.seconds:g} s under {args.rate:g} voted reads/s")
    print(f"  peak voter sockets to it, by state: {peak} (cap 64 per replica)")
    print(f"  sockets left 2 s after the heal: {left}")
    print(f"  voter failures charged to the healthy replicas: {charged}; their OFF transitions: {off}")
    print(f"  voted reads: {result['requests']}, success {result['success_rate']} %, p50 {result['p50_latency_ms']} ms,"
          f" p99 {result['p99_latency_ms']} ms")
    clean = (sum(peak.values()) <= 64 and not left.get("SYN-SENT") and not any(off.values())
             and not any(v for c in charged.values() for v in c.values()))
    print("  verdict:", "bounded and clean" if clean else "NOT CLEAN")
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    raise SystemExit(run(main(parser.parse_args())))
