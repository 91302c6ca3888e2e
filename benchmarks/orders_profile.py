"""Where an order's CPU goes: the working tree's lab under the paired benchmark's orders load, process by process.

    .venv/bin/python benchmarks/orders_profile.py [REF] [--seconds 10] [--py-spy orders,inventory-1] [--rate HZ]

A fresh lab of REF (a tag, branch or sha, installed as benchmarks/paired.py installs it) or of the working tree
(`.`, the default) — its own `faultlab up --detach` in a temporary lab folder on free ports, settled as
benchmarks/paired.py settles it) takes paired.py's orders load (`wrk -t1 -c32` POSTing orders, 201s only). Printed:
accepted orders/s, how far behind each replica was when the load stopped (paired.py's definition), and the CPU of
every lab process by role over the load — % of one core and µs of CPU per accepted order. With `--py-spy ROLES`
(`pip install py-spy`) each process of those roles is sampled over the load; its raw stacks (`py-spy record -f raw`)
are written to `--out`, and the functions with the most samples (inclusive, below the entry point) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import run
from benchmarks.idle import working_tree
from benchmarks.paired import machine, progress
from benchmarks.paired_lab import RefLab, cpu_snapshot
from benchmarks.paired_refs import RefError, install, working_tree_pins
from benchmarks.paired_stats import process_role

TOP = 25  # functions printed per sampled process
PY_SPY = str(Path(sys.executable).parent / "py-spy")  # `pip install py-spy` into this environment; else from PATH


def top_functions(raw: Path, count: int = TOP) -> list[tuple[float, str]]:
    """The functions with the most samples in a `py-spy record -f raw` file (inclusive, each counted once per
    stack), as (% of samples, function)."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        total += int(samples)
        for frame in set(stack.split(";")):
            inclusive[frame] += int(samples)
    # the chain every sample of the main thread sits under (the entry point, the event loop) says nothing: left out
    most = max(inclusive.values(), default=0)
    return [(n / total * 100, frame) for frame, n in inclusive.most_common() if n < most][:count]


async def main(args: argparse.Namespace) -> int:
    try:
        ref = working_tree() if args.ref == "." else await asyncio.to_thread(install, args.ref, working_tree_pins(),
                                                                              progress)
    except RefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="faultlab-orders-profile-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress(f"machine: {machine()}; {ref.label}; orders load of {args.seconds:g} s")
    async with RefLab(ref, home, progress) as lab:
        _, working_s = await lab.start()
        progress(f"working after {working_s:.2f} s; settled after {await lab.settle():.1f} s more")
        procs = lab.processes()
        roles = {proc.pid: process_role(proc.cmdline(), proc.name()) for proc in procs}
        spies = []
        for proc in procs:
            if roles[proc.pid] in args.py_spy:
                target = out / f"{roles[proc.pid]}-{proc.pid}.txt"
                spies.append((target, await asyncio.create_subprocess_exec(
                    PY_SPY if Path(PY_SPY).exists() else "py-spy", "record", "--pid", str(proc.pid), "--duration",
                    f"{args.seconds:g}", "--format", "raw", "--output", str(target), "--rate", str(args.rate),
                    "--nonblocking", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)))
        before = cpu_snapshot(procs)
        result, lags = await lab.orders(args.seconds)
        after = cpu_snapshot(procs)
        for _target, spy in spies:
            await spy.wait()
    by_role: dict[str, float] = {}
    for key, cpu_s in after.items():  # (pid, start time): a process started during the load counts from 0
        role = roles.get(key[0], "started in the load")
        by_role[role] = by_role.get(role, 0.0) + cpu_s - before.get(key, 0.0)
    shown = ", ".join("never" if lag is None else f"{lag:.0f}" for lag in lags)
    print(f"\naccepted orders {result.ok_per_s:,.0f}/s ({result.failed} not accepted); replicas behind at the end: "
          f"{shown} ms")
    print(f"{'role':<16} {'% of a core':>11} {'µs per order':>13}")
    for role, cpu_s in sorted(by_role.items(), key=lambda item: -item[1]):
        per_order = cpu_s / result.ok * 1e6 if result.ok else 0.0
        print(f"{role:<16} {cpu_s / args.seconds * 100:>11.1f} {per_order:>13.0f}")
    print(f"{'all':<16} {sum(by_role.values()) / args.seconds * 100:>11.1f}")
    for target, _spy in spies:
        if target.exists():
            print(f"\n{target} (inclusive % of samples):")
            for share, frame in top_functions(target):
                print(f"  {share:5.1f}  {frame}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref", metavar="REF", nargs="?", default=".", help="the ref to measure (`.`: the working tree)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the orders load, s (default 10)")
    parser.add_argument("--py-spy", default="", type=lambda text: {r.strip() for r in text.split(",") if r.strip()},
                        help="roles to sample with py-spy over the load, comma-separated (e.g. orders,inventory-1)")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    parser.add_argument("--out", default=".bench/orders-profile", help="folder for py-spy's raw stacks")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    return args


if __name__ == "__main__":
    raise SystemExit(run(main(parse_args())))
