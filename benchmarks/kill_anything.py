"""Kill anything: kill -9 each process of the lab in turn under a steady order load, and count what was lost.

Starts its own lab on free ports. For each victim (every replica, the voter, the monitor, the orders
service, the broker, PostgreSQL, the dashboard; or `--victims`) it runs an open-loop order load
(`--rate` orders/s for `--seconds`), sends SIGKILL to the victim `--kill-at` seconds in, lets the
supervisor restart it, and after the load waits for the lab to be working again. Every order carries an
Idempotency-Key. Then the data checker of the experiment (`faultlab.lab.checkers.check_data`) proves,
for the orders answered 201 in that round: every one stored in PostgreSQL with one outbox event, applied
exactly once by every replica, the replicas equal to the single-copy model, every order's status the
model's and none left PENDING; every refused order (503 "not_accepted" or connection refused: the client
knows it was not taken) is not stored; every order of unknown outcome (503 "outcome": "unknown", a
timeout or a connection lost after sending: Jepsen's info) is stored exactly once or not at all. Printed
per victim: orders accepted, refused, unknown (and how many of those were stored), lost, duplicated,
left PENDING, the time until the victim ran again and until the whole lab was working, and the verdict.

    .venv/bin/python benchmarks/kill_anything.py [--rounds 1] [--rate 100] [--seconds 12] [--victims broker,postgres]

The embedded broker keeps nothing on disk: after its kill the log is empty and the outbox relay
republishes what the replicas have not applied (replicas deduplicate by event seq, not broker offset).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import lab_settings, run
from faultlab.lab.checkers import check_data
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor

VICTIMS = ("inventory-1", "inventory-2", "inventory-3", "voter", "monitor", "orders", "broker", "postgres",
           "dashboard")


async def duplicates(dsn: str, replicas: list[int], accepted: list[str]) -> int:
    """order_created events applied more than once, summed over the replicas (must be 0)."""
    conn = await asyncpg.connect(dsn)
    try:
        total = 0
        for r in replicas:
            total += await conn.fetchval(
                f"""SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM inventory_{r}.applied_events
                    WHERE event_type = 'order_created' AND order_id = ANY($1::uuid[]) GROUP BY order_id) x""",
                accepted)
        return int(total)
    finally:
        await conn.close()


async def pending_left(dsn: str, accepted: list[str], wait_s: float) -> int:
    """Orders of this round still PENDING after `wait_s` (the reconciler decides lost results)."""
    deadline = time.monotonic() + wait_s
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            left = await conn.fetchval("""SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])
                                          AND status IN ('PENDING', 'CANCELLING')""", accepted)
        finally:
            await conn.close()
        if left == 0 or time.monotonic() > deadline:
            return int(left)
        await asyncio.sleep(0.5)


async def back_running(lab: Supervisor, victim: str, restarts_before: int, timeout_s: float) -> float | None:
    """Seconds from now until the supervisor has the victim running again (None: not in time)."""
    start = time.monotonic()
    proc = lab.processes[victim]
    while time.monotonic() - start < timeout_s:
        if proc.restarts > restarts_before and proc.running:
            return time.monotonic() - start
        await asyncio.sleep(0.01)
    return None


async def one_round(lab: Supervisor, victim: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    s = lab.settings
    load = OpenLoopLoad(request_factory(s, "orders", seed=seed), args.rate, args.seconds, target="orders",
                        timeout_s=5.0)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(args.kill_at)
    proc = lab.processes[victim]
    before = proc.restarts
    killed_at = time.monotonic()
    if not proc.signal(signal.SIGKILL):
        running.cancel()
        raise RuntimeError(f"{victim} was not running")
    restarted_s = await back_running(lab, victim, before, 60)
    await lab.wait_working(120)  # while the load goes on
    working_s = time.monotonic() - killed_at
    result = await running
    accepted = result.accepted_order_ids
    verdict = await check_data(s, accepted, timeout_s=120, ambiguous=result.ambiguous_writes,
                               refused_keys=result.refused_keys)
    checks = verdict["checks"]
    lost = checks.get("orders_stored", {}).get("missing")
    dup = await duplicates(s.dsn, s.replica_ids, accepted)
    pending = await pending_left(s.dsn, accepted, 30)
    ambiguous = checks.get("ambiguous_writes", {})
    ok = verdict["valid"] is True and dup == 0 and pending == 0
    return {"victim": victim, "sent": result.sent, "accepted": len(accepted), "refused": dict(result.errors),
            "unknown": dict(result.ambiguous), "unknown_stored": ambiguous.get("stored_once"),
            "unknown_twice": ambiguous.get("stored_more_than_once"),
            "refused_stored": checks.get("refusals", {}).get("stored_anyway"),
            "lost": lost, "duplicated": dup, "pending": pending, "restarted_s": restarted_s,
            "working_again_s": working_s if restarted_s is not None else None, "data_valid": verdict["valid"],
            "failed_checks": [k for k, c in checks.items() if c.get("valid") is not True], "ok": ok}


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


async def main(args: argparse.Namespace) -> int:
    victims = [v.strip() for v in args.victims.split(",")] if args.victims else list(VICTIMS)
    unknown = [v for v in victims if v not in VICTIMS]
    if unknown:
        print(f"unknown victim(s) {', '.join(unknown)}; choose among {', '.join(VICTIMS)}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        stock = {"PROD-001": 1_000_000, "PROD-002": 1_000_000, "PROD-003": 1_000_000}
        lab = Supervisor(lab_settings(Path(home), initial_stock=stock))
        try:
            await lab.start()
            print(f"lab up; {len(victims)} victim(s) × {args.rounds} round(s): {args.rate:g} orders/s for "
                  f"{args.seconds:g} s, kill -9 at {args.kill_at:g} s", flush=True)
            for rnd in range(args.rounds):
                for i, victim in enumerate(victims):
                    row = await one_round(lab, victim, args, seed=1000 * rnd + i)
                    rows.append(row)
                    print(f"  {victim:<12} accepted {row['accepted']:>5}  refused {sum(row['refused'].values()):>4}  "
                          f"unknown {sum(row['unknown'].values()):>3} (stored {row['unknown_stored']})  "
                          f"lost {row['lost']}  duplicated {row['duplicated']}  pending {row['pending']}  "
                          f"running again {fmt_s(row['restarted_s'])} s  lab working {fmt_s(row['working_again_s'])} s"
                          f"  {'ok' if row['ok'] else 'FAIL ' + ','.join(row['failed_checks'])}", flush=True)
        finally:
            await lab.stop()
    print()
    print(f"{'killed':<12} {'accepted':>8} {'refused':>8} {'unknown':>8} {'stored':>6} {'lost':>5} {'dup':>4} "
          f"{'pending':>7} {'restart s':>9} {'working s':>9}  refusals and unknown outcomes by kind")
    for row in rows:
        print(f"{row['victim']:<12} {row['accepted']:>8} {sum(row['refused'].values()):>8} "
              f"{sum(row['unknown'].values()):>8} {row['unknown_stored']!s:>6} {row['lost']!s:>5} "
              f"{row['duplicated']:>4} {row['pending']:>7} {fmt_s(row['restarted_s']):>9} "
              f"{fmt_s(row['working_again_s']):>9}  {row['refused'] or '-'} {row['unknown'] or ''}")
    passed = all(r["ok"] for r in rows)
    total = sum(r["accepted"] for r in rows)
    print(f"verdict: {'PASS' if passed else 'FAIL'} — {total} orders accepted over {len(rows)} kills, "
          f"{sum(r['lost'] or 0 for r in rows)} lost, {sum(r['duplicated'] for r in rows)} duplicated, "
          f"{sum(r['pending'] for r in rows)} left PENDING; "
          f"{sum(sum(r['unknown'].values()) for r in rows)} of unknown outcome "
          f"({sum(r['unknown_stored'] or 0 for r in rows)} stored once, "
          f"{sum(r['unknown_twice'] or 0 for r in rows)} more than once); "
          f"{sum(r['refused_stored'] or 0 for r in rows)} refused but stored")
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--victims", help=f"comma-separated (default all: {','.join(VICTIMS)})")
    parser.add_argument("--rounds", type=int, default=1, help="times through the victim list (default 1)")
    parser.add_argument("--rate", type=float, default=100.0, help="orders per second (default 100)")
    parser.add_argument("--seconds", type=float, default=12.0, help="load per victim (default 12)")
    parser.add_argument("--kill-at", type=float, default=4.0, help="seconds into the load (default 4)")
    raise SystemExit(run(main(parser.parse_args())))
