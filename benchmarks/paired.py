"""Speed as a ratio: two refs of faultlab measured side by side in one run, alternating, with a calibration.

    .venv/bin/python benchmarks/paired.py REF_A REF_B [-n 5] [--figures orders,...] [--json FILE] [--quick]
                                          [--install-only]

Each ref (a tag, branch or sha) is checked out in its own git worktree with its own virtual environment under
.bench/refs/<sha>/ (reused once installed), with the working tree's resolved dependency versions as constraints.
This one harness, from the working tree, then drives both as black boxes — each ref's own `faultlab up --detach` /
`down`, in a temporary lab folder on free ports, over HTTP — so every figure has one definition. Rounds alternate
A, B, calibration, A, B, calibration … n times. Per ref and round:

  warm start to working  the 2nd `faultlab up --detach` on a lab folder, from launching the command until it has
                         returned, a voted read has answered 200 and an order has been accepted (201);
                         the 1st (cold) start is measured the same way
  idle CPU               every lab process (the supervisor and all under it, warm spares included) over
                         --idle-seconds once the lab has settled (spares armed, no process above 15 % of a core)
  an order after a pause five single orders, each after 2 s of quiet: ms from POST /orders until every replica's
                         /health applied_seq passed it, and until GET /orders/{id} is no longer PENDING (medians)
  voted reads/s          wrk -t1 -c32 on GET /inventory/voted for --seconds
  accepted orders/s      wrk -t1 -c32 POSTing orders (3 products in turn, quantity 1, no Idempotency-Key); 201s only;
                         then each replica's delay: ms from the load's end until its /health applied_seq reached
                         the position every replica settled on
  voted reads/s with 500 orders/s flowing   wrk on GET /inventory/voted while the harness sends 500 orders/s open loop

Calibration, in every round: a trivial aiohttp JSON server (one process) under wrk -t1 -c32, and asyncpg single-row
INSERT transactions/s over 16 connections to an embedded PostgreSQL. It prints each figure for A and B, B/A as the
median and min–max of the per-round ratios, each figure over its round's calibration, and the targets of issue 25
(met when the median meets them). `--figures` measures only some of them (start, idle, pause, reads, orders, mixed), each
defined as above; the lab still starts and settles first, and the calibration runs in every round. Needs wrk
(`apt-get install -y wrk`). Ctrl-C or SIGTERM stops every lab it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import run
from benchmarks.paired_calibration import Calibration
from benchmarks.paired_lab import LabFailed, RefLab
from benchmarks.paired_refs import InstalledRef, RefError, install, working_tree_pins
from benchmarks.paired_report import (
    ORDERS_RATE,
    calibration_tables,
    figures_table,
    targets_table,
    verdicts,
)
from benchmarks.paired_stats import Round


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def failures_text(failures: dict[str, int]) -> str:
    return (": " + ", ".join(f"{n} {kind}" for kind, n in failures.items())) if failures else ""


FIGURE_GROUPS = ("start", "idle", "pause", "reads", "orders", "mixed")  # what --figures selects, in the order measured


async def measure_ref(ref: InstalledRef, side: str, args: argparse.Namespace) -> dict[str, float | None]:
    """The selected figures of one ref in a fresh lab folder: cold and warm start, idle CPU, then the three loads
    (a figure left out is not measured; the lab still starts, and settles before any load or idle window)."""
    home = Path(tempfile.mkdtemp(prefix=f"faultlab-paired-{ref.sha[:7]}-"))
    chosen = set(args.figures)
    figures: dict[str, float | None] = {}

    def say(message: str) -> None:
        progress(f"  {side} {ref.name}: {message}")

    try:
        async with RefLab(ref, home, progress) as lab:
            _, cold = await lab.start()
            say(f"cold start to working {cold:.2f} s")
            if "start" in chosen:
                await lab.stop()
                returned, warm = await lab.start()
                say(f"warm start to working {warm:.2f} s (`up --detach` returned after {returned:.2f} s)")
                figures.update(cold_start_s=cold, warm_start_s=warm, up_returned_s=returned)
            if chosen - {"start"}:
                figures["settle_s"] = await lab.settle()
            if "idle" in chosen:
                idle, count, by_role = await lab.idle_cpu(args.idle_seconds)
                top = ", ".join(f"{role} {pct:.1f}" for role, pct in list(by_role.items())[:4])
                say(f"idle CPU {idle:.1f} % of one core ({count} processes, {args.idle_seconds:g} s, "
                    f"settled {figures['settle_s']:.1f} s after working; most: {top})")
                figures.update(idle_cpu_pct=idle, lab_processes=count,
                               **{f"idle_cpu_pct:{role}": pct for role, pct in by_role.items()})
            if "pause" in chosen:
                applied, decided = await lab.after_pause()
                say(f"an order after 2 s of quiet: applied by every replica in {statistics.median(applied):.0f} ms, "
                    f"decided in {statistics.median(decided):.0f} ms (median of {len(applied)})")
                figures.update(pause_applied_ms=statistics.median(applied), pause_decided_ms=statistics.median(decided))
            if "reads" in chosen:
                reads = await lab.voted_reads(args.seconds)
                say(f"voted reads {reads.ok_per_s:,.0f}/s ({reads.failed} failed)")
                figures.update(reads_per_s=reads.ok_per_s, reads_failed=reads.failed)
            if "orders" in chosen:
                figures.update(await measure_orders(lab, say, args))
            if "mixed" in chosen:
                if chosen & {"reads", "orders"}:
                    await asyncio.sleep(1.0)
                mixed_reads, mixed_orders = await lab.mixed(args.seconds, ORDERS_RATE)
                say(f"voted reads {mixed_reads.ok_per_s:,.0f}/s ({mixed_reads.failed} failed) with orders "
                    f"{mixed_orders.accepted_per_s:,.0f}/s accepted of {ORDERS_RATE:g}/s sent "
                    f"({mixed_orders.failed} failed{failures_text(mixed_orders.failures)}, sender at most "
                    f"{mixed_orders.max_send_lag_ms:.0f} ms late)")
                figures.update(mixed_reads_per_s=mixed_reads.ok_per_s, mixed_reads_failed=mixed_reads.failed,
                               mixed_orders_per_s=mixed_orders.accepted_per_s,
                               mixed_orders_failed=mixed_orders.failed,
                               **{f"mixed_orders_failed:{kind}": n for kind, n in mixed_orders.failures.items()},
                               mixed_orders_max_send_lag_ms=mixed_orders.max_send_lag_ms)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return figures


async def measure_orders(lab: RefLab, say: Callable[[str], None], args: argparse.Namespace) -> dict[str, float | None]:
    """Accepted orders/s at saturation and how far behind each replica was when that load stopped."""
    orders, lags = await lab.orders(args.seconds)
    shown = ", ".join("never" if lag is None else f"{lag:.0f}" for lag in lags)
    say(f"accepted orders {orders.ok_per_s:,.0f}/s ({orders.failed} not accepted); replicas behind at "
        f"the end: {shown} ms")
    known = [lag for lag in lags if lag is not None]
    return {"orders_per_s": orders.ok_per_s, "orders_not_accepted": orders.failed,
            "max_lag_ms": max(known) if len(known) == len(lags) and known else None,
            **{f"lag_ms_replica_{i + 1}": lag for i, lag in enumerate(lags)}}


async def measure_calibration(args: argparse.Namespace, folder: Path) -> dict[str, float | None]:
    async with Calibration(folder, progress) as calibration:
        http = await calibration.http_req_per_s(args.seconds)
        pg = await calibration.pg_tx_per_s(args.seconds)
    progress(f"  calibration: aiohttp {http:,.0f} req/s, asyncpg {pg:,.0f} tx/s")
    return {"http_req_per_s": http, "pg_tx_per_s": pg}


def report(args: argparse.Namespace, refs: dict[str, InstalledRef], rounds: list[Round], started: str,
           host: str) -> dict[str, Any]:
    return {
        "command": " ".join(sys.argv), "started_at": started, "machine": host, "rounds_asked": args.rounds,
        "seconds": args.seconds, "idle_seconds": args.idle_seconds, "figures": list(args.figures),
        "refs": {side: {"name": r.name, "sha": r.sha, "differences": list(r.differences)} for side, r in refs.items()},
        "rounds": rounds,
        "targets": [{"target": v.target.label, "median": v.measured.median, "min": v.measured.low,
                     "max": v.measured.high, "met": v.met, "notes": list(v.notes)} for v in verdicts(rounds)],
    }


async def main(args: argparse.Namespace) -> int:
    if not args.install_only and shutil.which("wrk") is None:
        print("error: wrk is not installed; install it with `apt-get install -y wrk` (Debian/Ubuntu) and run again",
              file=sys.stderr)
        return 2
    try:
        pins = working_tree_pins()
        refs = {"A": await asyncio.to_thread(install, args.ref_a, pins, progress),
                "B": await asyncio.to_thread(install, args.ref_b, pins, progress)}
    except RefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for side, ref in refs.items():
        progress(f"{side} = {ref.label}, installed in {ref.folder}")
        for note in ref.differences:
            progress(f"  {side}: {note}")
    if args.install_only:
        return 0
    host = machine()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    progress(f"machine: {host}; {args.rounds} round(s) of A, B, calibration; loads of {args.seconds:g} s")
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="faultlab-paired-calibration-") as calibration_folder:
        for number in range(1, args.rounds + 1):
            progress(f"round {number}/{args.rounds} (load average {os.getloadavg()[0]:.1f})")
            current: Round = {"host": {"load_avg_1m": os.getloadavg()[0]}}
            try:
                for side in ("A", "B"):
                    current[side] = await measure_ref(refs[side], side, args)
            except LabFailed as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            current["calibration"] = await measure_calibration(args, Path(calibration_folder))
            rounds.append(current)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(report(args, refs, rounds, started, host), indent=2) + "\n")
    print()
    print(f"paired figures, {started}, {host}; A = {refs['A'].label}, B = {refs['B'].label}, {len(rounds)} round(s)")
    for line in [*figures_table(rounds, refs["A"].name, refs["B"].name), "", *calibration_tables(rounds), "",
                 *targets_table(rounds)]:
        print(line)
    if args.json:
        print(f"\nevery round's figures: {args.json}")
    return 0


def figure_groups(text: str) -> tuple[str, ...]:
    """--figures: known names, comma-separated, at least one; kept in the order they are measured."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(FIGURE_GROUPS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown figure(s) {', '.join(unknown) or '(none given)'}; "
                                         f"choose from {', '.join(FIGURE_GROUPS)}")
    return tuple(name for name in FIGURE_GROUPS if name in names)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref_a", metavar="REF_A", help="the reference (e.g. v0.1.0): ratios are B/A")
    parser.add_argument("ref_b", metavar="REF_B", help="the ref measured against it (e.g. v0.2.0, main, a sha)")
    parser.add_argument("-n", "--rounds", type=int, default=5, help="rounds of A, B, calibration (default 5)")
    parser.add_argument("--json", metavar="FILE", help="write every round's figures and the verdicts here")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load, s (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window, s (default 10)")
    parser.add_argument("--figures", default=",".join(FIGURE_GROUPS), type=figure_groups,
                        help=f"which figures to measure, comma-separated, from {', '.join(FIGURE_GROUPS)} (default: all; "
                             "the calibration is measured in every round whatever is chosen)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, 3 s loads, 3 s idle window")
    parser.add_argument("--install-only", action="store_true",
                        help="install both refs (worktree + virtual environment) and stop; no lab is started")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.idle_seconds = 1, 3.0, 3.0
    if args.rounds < 1 or args.seconds < 1 or args.idle_seconds < 1:
        parser.error("-n, --seconds and --idle-seconds must be at least 1")
    return args


if __name__ == "__main__":
    raise SystemExit(run(main(parse_args())))
