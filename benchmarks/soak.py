"""Soak: minutes of steady load with a random fault every 30 s; memory, descriptors and connections must stay flat.

Starts its own lab on free ports and runs an open-loop mix of orders and voted reads (100 req/s by
default). Every 30 s it injects one fault — kind and replica drawn from a seeded RNG among crash,
latency, intermittent, incorrect, hang and stale — and clears it ~10 s later. Every 10 s it samples each
supervised process (with its children): RSS, open file descriptors, TCP connections. At the end it
checks the data (every accepted order stored once and applied exactly once by every replica, replicas
equal to the single-copy model, nothing left PENDING), stops the lab, checks that no process is left,
and prints the figures against the stated bounds with a verdict (exit code 0 = pass).

The broker is judged on its own as well: its RSS over the second half of the load must grow by at most
`--broker-half-mib` (10 MiB; the log is trimmed by generation, docs/correctness.md), and with
`--broker-end-mib` it must end under that bound.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 100] [--seed 1] [--json soak.json]
    .venv/bin/python benchmarks/soak.py --minutes 30 --rate 600 --order-ratio 1 --broker-end-mib 100
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import lab_settings, run
from faultlab.core.protocol import CREATED
from faultlab.lab.load import Completion, OpenLoopLoad, request_factory
from faultlab.runtime.supervisor import Supervisor
from faultlab.shop.voter.fanout import ConnectionPool
from tests.helpers import auth, clear_all_faults, replica_rows, wait_converged

FANOUT_MAX_IDLE: int = inspect.signature(ConnectionPool).parameters["max_idle"].default
KINDS = ("crash", "latency", "intermittent", "incorrect", "hang", "stale")
MIB = 1024 * 1024
SELF = "load+supervisor"  # this process: the Supervisor object, its control API and the load generator


@dataclass
class Bounds:
    """What the soak must stay within, per process: RSS under load -> settled, fds and TCP idle -> settled."""

    rss_growth_mib: float = 50.0
    fd_growth: int = 20
    tcp_growth: int = 20
    replicas: int = 3

    def pool_allowance(self, name: str) -> int:
        """Idle keep-alive sockets the voter's fan-out keeps by design (≤ max_idle per replica, both ends)."""
        if name == "voter":
            return FANOUT_MAX_IDLE * self.replicas
        return FANOUT_MAX_IDLE if name.startswith("inventory-") else 0


@dataclass
class Sample:
    """One process tree at one moment."""

    t_s: float
    phase: str  # idle (before the load), load, settled (load over, faults cleared, keep-alives expired)
    pid: int
    rss_mib: float
    fds: int
    tcp: int
    children: int


@dataclass
class Soak:
    """Everything measured during one run."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    seen: dict[int, float] = field(default_factory=dict)  # every pid ever sampled -> its create_time
    faults: list[dict[str, Any]] = field(default_factory=list)
    active: str = "no fault"  # the fault in effect now, as "kind@replica"
    failed: Counter[str] = field(default_factory=Counter)  # "request kind error during fault" -> count

    def on_result(self, done: Completion) -> None:
        if not done.ok:
            self.failed[f"{done.kind} {done.error} during {self.active}"] += 1


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def sample_all(lab: Supervisor, soak: Soak, t_s: float, phase: str) -> None:
    """RSS and descriptors of each main process; TCP connections of its tree (PostgreSQL's are its backends').

    This process (the Supervisor and the load) is sampled alone: every service is its child.
    """
    pids = {name: p.pid for name, p in lab.processes.items() if p.pid is not None}
    for name, pid in [*pids.items(), (SELF, psutil.Process().pid)]:
        try:
            tree = [psutil.Process(pid)] if name == SELF else _tree(pid)
            tcp = 0
            for proc in tree:
                soak.seen.setdefault(proc.pid, proc.create_time())
                tcp += len(proc.net_connections(kind="tcp"))
            main_proc = tree[0]
            rss, fds = main_proc.memory_info().rss / MIB, main_proc.num_fds()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # died between listing and sampling (a crash fault): the next sample has the new one
        soak.samples.setdefault(name, []).append(
            Sample(round(t_s, 1), phase, pid, round(rss, 1), fds, tcp, len(tree) - 1))


def fault_params(kind: str, rng: random.Random, products: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {"kind": kind, "seed": rng.randrange(2**31)}
    if kind == "latency":
        params.update(latency_ms=rng.choice([300, 800, 1200]), jitter_ms=100)
    elif kind == "intermittent":
        params["probability"] = rng.choice([0.3, 0.5, 0.8])
    elif kind == "incorrect":
        params["product_id"] = rng.choice(products)
    return params


async def fault_loop(lab: Supervisor, soak: Soak, args: argparse.Namespace, started: float, stop: asyncio.Event) -> None:
    """A fault every `fault_every_s`, cleared after `hold_s` (a crash is undone by the supervisor's restart)."""
    rng = random.Random(args.seed)
    s = lab.settings
    products = sorted(s.initial_stock)
    async with aiohttp.ClientSession(headers=auth(lab), timeout=aiohttp.ClientTimeout(total=5)) as session:
        index = 1
        while not stop.is_set():
            with_fault_at = started + index * args.fault_every_s
            if with_fault_at + args.hold_s > started + args.minutes * 60:
                return
            await asyncio.sleep(max(0.0, with_fault_at - time.monotonic()))
            kind, replica = rng.choice(KINDS), rng.choice(s.replica_ids)
            params = fault_params(kind, rng, products)
            record: dict[str, Any] = {"t_s": round(time.monotonic() - started, 1), "replica": replica, **params}
            try:
                soak.active = f"{kind}@{replica}"
                async with session.post(f"{s.replica_url(replica)}/faults", json=params) as resp:
                    record["status"] = resp.status
                await asyncio.sleep(args.hold_s)
                if kind != "crash":
                    async with session.delete(f"{s.replica_url(replica)}/faults") as resp:
                        record["cleared"] = resp.status
                soak.active = f"after {kind}@{replica}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                record["error"] = repr(exc)
            soak.faults.append(record)
            print(f"  t={record['t_s']:6.1f} s  {kind:12s} replica {replica}  -> {record.get('status')}"
                  f"{'  cleared' if record.get('cleared') == 200 else ''}", flush=True)
            index += 1


async def sample_loop(lab: Supervisor, soak: Soak, every_s: float, started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            await asyncio.to_thread(sample_all, lab, soak, time.monotonic() - started, "load")


async def check_data(lab: Supervisor, accepted: list[str]) -> dict[str, Any]:
    """Every 201 order in PostgreSQL once, applied exactly once by every replica; replicas equal the model."""
    s = lab.settings
    async with aiohttp.ClientSession() as session:
        model = await wait_converged(lab, session, timeout_s=120)
    conn = await asyncpg.connect(s.dsn)
    try:
        ids = list(set(accepted))
        stored = await conn.fetchval("SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])", ids)
        deadline = time.monotonic() + 60
        while (pending := await conn.fetchval("SELECT count(*) FROM orders.orders WHERE status = 'PENDING'")) \
                and time.monotonic() < deadline:
            await asyncio.sleep(1)
        per_replica = {}
        for r in s.replica_ids:
            total, distinct = await conn.fetchrow(
                f"""SELECT count(*), count(DISTINCT order_id) FROM inventory_{r}.applied_events
                    WHERE event_type = $1 AND order_id = ANY($2::uuid[])""", CREATED, ids)
            rows = await replica_rows(lab, r)
            per_replica[r] = {"applied_created": total, "distinct": distinct, "events": rows["events"],
                              "distinct_seqs": rows["distinct"], "max_seq": rows["max_seq"]}
    finally:
        await conn.close()
    ok = (stored == len(ids) == len(accepted) and pending == 0
          and all(v["applied_created"] == v["distinct"] == len(ids) and v["events"] == v["distinct_seqs"]
                  and v["max_seq"] == model.applied_seq for v in per_replica.values()))
    return {"accepted": len(accepted), "distinct_accepted": len(ids), "stored": stored, "pending_left": pending,
            "model_seq": model.applied_seq, "replicas": per_replica, "ok": ok}


def leftovers(soak: Soak) -> list[str]:
    """Processes sampled during the run that still exist (same pid and start time) after the lab stopped."""
    me = psutil.Process().pid
    left = []
    for pid, created in soak.seen.items():
        if pid == me:
            continue
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{pid} {' '.join(proc.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            pass
    return left


def broker_verdict(soak: Soak, half_mib: float, end_mib: float | None, minutes: float) -> tuple[str, bool]:
    """The broker's RSS over the second half of the load (from the sample nearest half time to the largest after it,
    and to the last one under load), and at the end against `end_mib` when given."""
    series = soak.samples.get("broker", [])
    loaded = [x for x in series if x.phase == "load"]
    if not loaded:
        return "broker: not sampled", False
    half_t = minutes * 60 / 2
    half = min(loaded, key=lambda x: abs(x.t_s - half_t))
    after = [x for x in loaded if x.t_s >= half.t_s]
    growth_max = max(x.rss_mib for x in after) - half.rss_mib
    growth_end = loaded[-1].rss_mib - half.rss_mib
    end = series[-1].rss_mib
    ok = growth_max <= half_mib and (end_mib is None or end <= end_mib)
    bound = "" if end_mib is None else f", at the end {end:.1f} MiB (bound {end_mib:g})"
    return (f"broker RSS over the second half of the load: {half.rss_mib:.1f} MiB at {half.t_s:.0f} s, at most "
            f"{half.rss_mib + growth_max:.1f} after ({growth_max:+.1f}, bound +{half_mib:g}), "
            f"{loaded[-1].rss_mib:.1f} at the load's end ({growth_end:+.1f}){bound}: {'ok' if ok else 'FAIL'}"), ok


async def log_generations(lab: Supervisor) -> dict[str, Any]:
    """What the orders service says of the log's generations (how many topics it deleted, the floor)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
            session.get(f"{lab.settings.service_url('orders')}/health") as resp:
        return dict((await resp.json())["relay"].get("generations", {}))


def verdicts(soak: Soak, bounds: Bounds) -> tuple[list[str], bool]:
    """RSS from the first sample under load to the settled one; fds and TCP from idle (before) to settled."""
    header = (f"{'process':16s} {'RSS MiB start':>13s} {'end':>6s} {'max':>6s} {'growth':>6s} | "
              f"{'fds idle':>8s} {'max':>4s} {'end':>4s} | {'tcp idle':>8s} {'max':>4s} {'end':>4s} | pids  verdict")
    lines = [header]
    ok = True
    for name in sorted(soak.samples):
        series = soak.samples[name]
        loaded = [x for x in series if x.phase == "load"] or series
        idle = next((x for x in series if x.phase == "idle"), series[0])
        end = series[-1]
        growth = end.rss_mib - loaded[0].rss_mib
        pool = bounds.pool_allowance(name)
        # This process's RSS is the load generator's: one 190 KiB latency histogram per second of load, by design.
        fine = (end.phase == "settled" and (growth < bounds.rss_growth_mib or name == SELF)
                and end.fds - idle.fds <= bounds.fd_growth + pool and end.tcp - idle.tcp <= bounds.tcp_growth + pool)
        ok &= fine
        lines.append(f"{name:16s} {loaded[0].rss_mib:13.1f} {end.rss_mib:6.1f} {max(x.rss_mib for x in series):6.1f} "
                     f"{growth:+6.1f} | {idle.fds:8d} {max(x.fds for x in series):4d} {end.fds:4d} | "
                     f"{idle.tcp:8d} {max(x.tcp for x in series):4d} {end.tcp:4d} | "
                     f"{len({x.pid for x in series}):4d}  {'ok' if fine else 'FAIL'}")
    return lines, ok


async def main(args: argparse.Namespace) -> int:
    bounds = Bounds(args.rss_bound_mib, args.fd_bound, args.tcp_bound)
    soak = Soak()
    with tempfile.TemporaryDirectory() as home:
        stock = {"PROD-001": 1_000_000, "PROD-002": 1_000_000, "PROD-003": 1_000_000}
        lab = Supervisor(lab_settings(Path(home), initial_stock=stock))
        try:
            await lab.start()
            s = lab.settings
            print(f"lab up; soak {args.minutes:g} min at {args.rate:g} req/s ({args.order_ratio:.0%} orders), "
                  f"a fault every {args.fault_every_s:g} s held {args.hold_s:g} s, seed {args.seed}", flush=True)
            load = OpenLoopLoad(request_factory(s, "mix", seed=args.seed, order_ratio=args.order_ratio), args.rate,
                                args.minutes * 60, target="mix", timeout_s=5.0, on_result=soak.on_result)
            stop = asyncio.Event()
            await asyncio.sleep(args.sample_every_s)  # idle figures once the lab's start-up traffic is over
            sample_all(lab, soak, 0.0, "idle")
            started = time.monotonic()
            tasks = [asyncio.create_task(sample_loop(lab, soak, args.sample_every_s, started, stop)),
                     asyncio.create_task(fault_loop(lab, soak, args, started, stop))]
            result = await load.run()
            ended = time.monotonic()
            await asyncio.to_thread(sample_all, lab, soak, ended - started, "load")
            stop.set()
            await asyncio.gather(*tasks)
            await clear_all_faults(lab)
            await lab.wait_working(60)
            data = await check_data(lab, result.accepted_order_ids)
            generations = await log_generations(lab)
            load_figures = result.describe()
            load_figures.pop("per_second")
            print(f"load over, data checked; end figures {args.settle_s:g} s after the load", flush=True)
            await asyncio.sleep(max(0.0, ended + args.settle_s - time.monotonic()))
            await asyncio.to_thread(sample_all, lab, soak, time.monotonic() - started, "settled")
        finally:
            await lab.stop()
        await asyncio.sleep(1.0)
        left = leftovers(soak)
    table, flat = verdicts(soak, bounds)
    broker_line, broker_flat = broker_verdict(soak, args.broker_half_mib, args.broker_end_mib, args.minutes)
    print()
    print(f"load: {load_figures['requests']} requests, {load_figures['successful']} ok "
          f"({load_figures['success_rate']} %), p50 {load_figures['p50_latency_ms']} ms, "
          f"p99 {load_figures['p99_latency_ms']} ms, errors {load_figures['errors']}")
    print("failed requests by fault window: " + (", ".join(f"{k}: {n}" for k, n in soak.failed.most_common())
                                                  or "none"))
    print(f"faults: {len(soak.faults)} injected: " + ", ".join(f"{f['kind']}@{f['replica']}" for f in soak.faults))
    print(f"data: {data['accepted']} orders accepted, {data['stored']} stored, {data['pending_left']} left PENDING, "
          f"log seq {data['model_seq']}; per replica (order_created applied / distinct / events / distinct seqs / "
          f"max seq): " + "; ".join(f"{r}: {v['applied_created']}/{v['distinct']}/{v['events']}/"
                                   f"{v['distinct_seqs']}/{v['max_seq']}" for r, v in data["replicas"].items()))
    print(f"bounds per process: RSS growth < {bounds.rss_growth_mib:g} MiB (first sample under load -> settled), "
          f"open fds +{bounds.fd_growth} and TCP connections +{bounds.tcp_growth} at most (idle before -> settled), "
          f"plus the voter's idle fan-out pool: at most {FANOUT_MAX_IDLE} sockets per replica, kept by design; "
          f"{SELF}'s RSS is shown, not judged (the load keeps a latency histogram per second)")
    print("\n".join(table))
    print(broker_line)
    print(f"log generations: {generations.get('deleted_topics', 0)} topics deleted, floor seq "
          f"{generations.get('floor')}, oldest live generation {generations.get('events_low')}")
    print(f"processes left after stop: {len(left)}" + "".join(f"\n  {x}" for x in left))
    passed = flat and broker_flat and data["ok"] and not left
    print(f"verdict: {'PASS' if passed else 'FAIL'} (memory/fds/connections {'flat' if flat else 'GREW'}, "
          f"broker {'flat' if broker_flat else 'GREW'}, "
          f"data {'exact' if data['ok'] else 'WRONG'}, {'no' if not left else len(left)} process(es) left)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "args": vars(args), "load": load_figures, "broker": broker_line, "generations": generations, "faults": soak.faults, "failed": dict(soak.failed), "data": data, "leftovers": left,
            "samples": {n: [x.__dict__ for x in v] for n, v in soak.samples.items()}, "passed": passed}, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (orders + voted reads)")
    parser.add_argument("--order-ratio", type=float, default=0.2)
    parser.add_argument("--fault-every-s", type=float, default=30.0)
    parser.add_argument("--hold-s", type=float, default=10.0)
    parser.add_argument("--sample-every-s", type=float, default=10.0)
    parser.add_argument("--settle-s", type=float, default=30.0, help="idle time after the load before the end figures")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rss-bound-mib", type=float, default=50.0)
    parser.add_argument("--fd-bound", type=int, default=20)
    parser.add_argument("--tcp-bound", type=int, default=20)
    parser.add_argument("--broker-half-mib", type=float, default=10.0,
                        help="the broker's RSS may grow at most this much over the second half of the load")
    parser.add_argument("--broker-end-mib", type=float, help="the broker's RSS must end under this (MiB)")
    parser.add_argument("--json", help="write every sample, fault and check here")
    raise SystemExit(run(main(parser.parse_args())))
