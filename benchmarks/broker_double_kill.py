"""Broker double kill: kill -9 the embedded broker twice within a second under an order load, and count the damage.

Starts its own lab on free ports. Each round runs an open-loop order load (`--rate` orders/s for `--seconds`,
each order with an Idempotency-Key), kills the broker `--kill-at` seconds in, waits until the supervisor has it
running again and kills it a second time a gap later, each round with the next gap of `--gaps` (all under a
second; its log is in memory: each kill empties it, so the relay must republish twice in quick succession, and
which of its sends the second kill cuts depends on the gap). After the load it waits for the lab to be
working and the replicas to reach the end of the log, then reports, for the orders answered 201 in the round:

  lost        accepted but not applied by every replica (the relay once marked rows published that were never
              sent to the new log, and every replica waited forever for the missing seq)
  pending     still PENDING (or CANCELLING) `--pending-after` seconds after the load ended
  duplicates  order_created events applied more than once, summed over the replicas

target 0, 0, 0; plus the experiment's data check (stored once, applied once, replicas equal the single-copy
model, refused orders not stored, orders of unknown outcome stored once or not at all), the relay's and the
replicas' view of the resets, and how long after the load every replica had applied everything.

    .venv/bin/python benchmarks/broker_double_kill.py [--repeat 1] [--gaps 0.15,0.25,0.35,0.5,0.75] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import lab_settings, run
from faultlab.lab.checkers import check_data
from faultlab.lab.load import OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor


async def lost_and_duplicated(dsn: str, replicas: list[int], accepted: list[str]) -> tuple[int, int]:
    """Accepted orders that some replica never applied, and order_created events applied more than once."""
    conn = await asyncpg.connect(dsn)
    try:
        lost = await conn.fetchval(
            f"""SELECT count(*) FROM unnest($1::uuid[]) AS a(id) WHERE
                {' OR '.join(f'NOT EXISTS (SELECT 1 FROM inventory_{r}.applied_events e WHERE e.order_id = a.id '
                             "AND e.event_type = 'order_created')" for r in replicas)}""", accepted)
        duplicated = 0
        for r in replicas:
            duplicated += await conn.fetchval(
                f"""SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM inventory_{r}.applied_events
                    WHERE event_type = 'order_created' AND order_id = ANY($1::uuid[]) GROUP BY order_id) x""",
                accepted)
        return int(lost), int(duplicated)
    finally:
        await conn.close()


async def pending_at(dsn: str, accepted: list[str], at: float) -> int:
    """Orders of the round still undecided at monotonic time `at`."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("""SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])
                                          AND status IN ('PENDING', 'CANCELLING')""", accepted))
    finally:
        await conn.close()


async def caught_up_after(lab: Supervisor, since: float, timeout_s: float) -> float | None:
    """Seconds from `since` (monotonic) until every replica had applied the whole outbox (None: not in time)."""
    deadline = time.monotonic() + timeout_s
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        while time.monotonic() < deadline:
            end = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM orders.outbox")
            unpublished = await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR NOT published")
            positions = [await conn.fetchval(f"SELECT applied_seq FROM inventory_{r}.position WHERE id = 1")
                         for r in lab.settings.replica_ids]
            if unpublished == 0 and all(p == end for p in positions):
                return time.monotonic() - since
            await asyncio.sleep(0.05)
        return None
    finally:
        await conn.close()


async def health(lab: Supervisor) -> dict[str, Any]:
    """The relay's and each replica's count of log resets (from their /health)."""
    s = lab.settings
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        async with session.get(f"{s.service_url('orders')}/health") as resp:
            out["relay"] = (await resp.json())["relay"]
        for r in s.replica_ids:
            async with session.get(f"{s.replica_url(r)}/health") as resp:
                body = await resp.json()
                out[f"replica_{r}"] = {k: body.get(k) for k in ("broker_resets", "gap_rescans", "applied_seq")}
    return out


async def kill_broker(lab: Supervisor, restarts_before: int, timeout_s: float = 10.0) -> float:
    """SIGKILL the broker once the supervisor has it running (after `restarts_before` restarts); when it died."""
    proc = lab.processes["broker"]
    deadline = time.monotonic() + timeout_s
    while not (proc.running and proc.restarts >= restarts_before):
        if time.monotonic() > deadline:
            raise RuntimeError("the broker was not running again in time for its kill")
        await asyncio.sleep(0.002)
    assert proc.signal(signal.SIGKILL)
    return time.monotonic()


async def one_round(lab: Supervisor, args: argparse.Namespace, gap_s: float, seed: int) -> dict[str, Any]:
    s = lab.settings
    before = await health(lab)
    load = OpenLoopLoad(request_factory(s, "orders", seed=seed), args.rate, args.seconds, target="orders",
                        timeout_s=5.0)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(args.kill_at)
    broker = lab.processes["broker"]
    restarts = broker.restarts
    first = await kill_broker(lab, restarts)
    await asyncio.sleep(max(0.0, first + gap_s - time.monotonic()))
    second = await kill_broker(lab, restarts + 1)
    result = await running
    ended = time.monotonic()
    await lab.wait_working(120)
    applied_s = await caught_up_after(lab, ended, 120)
    accepted = result.accepted_order_ids
    pending = await pending_at(s.dsn, accepted, ended + args.pending_after)
    verdict = await check_data(s, accepted, timeout_s=60, ambiguous=result.ambiguous_writes,
                               refused_keys=result.refused_keys)
    lost, duplicated = await lost_and_duplicated(s.dsn, s.replica_ids, accepted)
    after = await health(lab)
    checks = verdict["checks"]
    return {
        "sent": result.sent, "accepted": len(accepted), "refused": dict(result.errors),
        "unknown": dict(result.ambiguous), "kill_gap_s": second - first, "lost": lost, "pending": pending,
        "duplicated": duplicated, "applied_after_load_s": applied_s,
        "relay_resets": after["relay"]["broker_resets"] - before["relay"]["broker_resets"],
        "republished": after["relay"]["republished_total"] - before["relay"]["republished_total"],
        "replica_resets": [after[f"replica_{r}"]["broker_resets"] - before[f"replica_{r}"]["broker_resets"]
                           for r in s.replica_ids],
        "data_valid": verdict["valid"],
        "failed_checks": [k for k, c in checks.items() if c.get("valid") is not True],
        "ok": lost == 0 and pending == 0 and duplicated == 0 and verdict["valid"] is True,
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


async def main(args: argparse.Namespace) -> int:
    try:
        gaps = [float(g) for g in args.gaps.split(",")] * args.repeat
    except ValueError:
        gaps = []
    if not gaps or not all(0 < g < 1 for g in gaps):
        print("--gaps: comma-separated seconds, each between 0 and 1 (two kills within a second)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as home:
        stock = {"PROD-001": 10_000_000, "PROD-002": 10_000_000, "PROD-003": 10_000_000}
        lab = Supervisor(lab_settings(Path(home), initial_stock=stock))
        try:
            await lab.start()
            print(f"lab up; {len(gaps)} round(s): {args.rate:g} orders/s for {args.seconds:g} s, broker killed at "
                  f"{args.kill_at:g} s and again {', '.join(f'{g:g}' for g in gaps)} s later", flush=True)
            for i, gap in enumerate(gaps):
                row = await one_round(lab, args, gap, seed=100 + i)
                rows.append(row)
                print(f"  round {i + 1}: accepted {row['accepted']}  refused {row['refused'] or 0}  "
                      f"unknown {row['unknown'] or 0}  kills {row['kill_gap_s']:.3f} s apart  "
                      f"lost {row['lost']}  pending {row['pending']}  duplicated {row['duplicated']}  "
                      f"all applied {fmt(row['applied_after_load_s'])} s after the load  relay resets "
                      f"{row['relay_resets']} (republished {row['republished']})  replica resets "
                      f"{row['replica_resets']}  "
                      f"{'ok' if row['ok'] else 'FAIL ' + ','.join(row['failed_checks'])}", flush=True)
        finally:
            await lab.stop()
            if args.keep_logs:
                shutil.copytree(lab.logs, Path(args.keep_logs), dirs_exist_ok=True)
                print(f"the lab's logs: {args.keep_logs}")
    print()
    print(f"{'round':>5} {'accepted':>8} {'refused':>7} {'unknown':>7} {'gap s':>6} {'lost':>5} "
          f"{'pending':>7} {'dup':>4} {'applied s':>9}  data check")
    for i, row in enumerate(rows, 1):
        print(f"{i:>5} {row['accepted']:>8} {sum(row['refused'].values()):>7} {sum(row['unknown'].values()):>7} "
              f"{row['kill_gap_s']:>6.3f} {row['lost']:>5} {row['pending']:>7} {row['duplicated']:>4} "
              f"{fmt(row['applied_after_load_s']):>9}  {row['data_valid']}")
    passed = bool(rows) and all(r["ok"] for r in rows)
    print(f"verdict: {'PASS' if passed else 'FAIL'} — {sum(r['accepted'] for r in rows)} orders accepted over "
          f"{len(rows)} double kills: {sum(r['lost'] for r in rows)} lost, {sum(r['pending'] for r in rows)} "
          f"PENDING {args.pending_after:g} s later, {sum(r['duplicated'] for r in rows)} duplicated (target 0, 0, 0)")
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gaps", default="0.15,0.25,0.35,0.5,0.75",
                        help="seconds between the two kills, one round each (default 0.15,0.25,0.35,0.5,0.75)")
    parser.add_argument("--repeat", type=int, default=1, help="times through the gaps (default 1)")
    parser.add_argument("--rate", type=float, default=200.0, help="orders per second (default 200)")
    parser.add_argument("--seconds", type=float, default=12.0, help="load per round (default 12)")
    parser.add_argument("--kill-at", type=float, default=5.0, help="first kill, seconds into the load (default 5)")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the lab's logs here at the end")
    parser.add_argument("--pending-after", type=float, default=30.0,
                        help="count orders still PENDING this long after the load (default 30)")
    raise SystemExit(run(main(parser.parse_args())))
