"""The idle lab, process by process: CPU, wake-ups per second and CPU per wake-up of every lab process at rest.

    .venv/bin/python benchmarks/idle.py [REF ...] [-n ROUNDS] [--idle-seconds S] [--page] [--json FILE]

Each REF (a tag, branch or sha, installed as benchmarks/paired.py installs it, under .bench/refs/<sha>/) or `.`
(the working tree's own .venv, the default) gets a fresh lab of its own `faultlab up --detach` in a temporary lab
folder on free ports, driven as paired.py drives it; refs alternate, n rounds. Once the lab has settled (paired.py's
rule: spares armed, no process above 15 % of a core), every lab process is measured over the window:

  CPU          user + system CPU time, % of one core
  wake-ups/s   voluntary context switches per second (all its threads): each time it went to sleep waiting for
               something (a timer, a socket) and was woken again
  µs/wake-up   CPU time per wake-up: what one round of its event loop costs

Then the requests each service answered per second in the window, by endpoint (each service's /metrics counter,
read before and after; a release without it shows none): what keeps the idle lab awake.

`--page` measures the same with a dashboard page open (a client following its live stream, `GET /api/stream`).
Rows are printed per role (each service, spares, broker, postgres, supervisor) with the median over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import run
from benchmarks.paired import machine, progress
from benchmarks.paired_lab import RefLab
from benchmarks.paired_refs import ROOT, InstalledRef, RefError, install, working_tree_pins
from benchmarks.paired_stats import process_role
from faultlab.lab.dashboard.metrics import parse_prometheus

Sample = dict[str, tuple[float, int]]  # role -> (CPU seconds, voluntary context switches), summed over its processes


def working_tree() -> InstalledRef:
    """The working tree's editable .venv as a ref (a folder whose venv/ is that .venv)."""
    folder = Path(tempfile.mkdtemp(prefix="faultlab-idle-tree-"))
    (folder / "venv").symlink_to(ROOT / ".venv")
    sha = os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip()
    dirty = " + changes" if os.popen(f"git -C {ROOT} status --porcelain --untracked-files=no").read().strip() else ""
    return InstalledRef("working tree", f"{sha}{dirty}", folder, ())


def sample(procs: list[psutil.Process]) -> dict[tuple[int, float], tuple[str, float, int]]:
    """(pid, start time) -> (role, CPU seconds, voluntary context switches) of each process still there."""
    found = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error), proc.oneshot():
            times, switches = proc.cpu_times(), proc.num_ctx_switches()
            found[(proc.pid, proc.create_time())] = (process_role(proc.cmdline(), proc.name()),
                                                     times.user + times.system,
                                                     switches.voluntary)
    return found


async def follow_page(url: str, stop: asyncio.Event) -> int:
    """Follow the dashboard's live stream like an open page until `stop`; bytes received."""
    received = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=30)) as session, \
            session.get(url, headers={"Accept": "text/event-stream"}) as resp:
        reading = asyncio.ensure_future(_drain(resp))
        await stop.wait()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            received = await reading
    return received


async def _drain(resp: aiohttp.ClientResponse) -> int:
    received = 0
    async for chunk in resp.content.iter_any():
        received += len(chunk)
    return received


async def answered(lab: RefLab) -> dict[str, float]:
    """Requests each service has answered so far, by "service METHOD endpoint" (its /metrics; a service without
    the counter, an older release, adds nothing)."""
    assert lab.session is not None
    ports = {**{name: port for name, port in lab.ports.items() if name in ("orders", "monitor", "voter", "dashboard")},
             **{f"inventory-{i}": port for i, port in enumerate(lab.replica_ports, start=1)}}
    counts: dict[str, float] = {}
    for name, port in ports.items():
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with lab.session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
            for sample, labels, value in parse_prometheus(text):
                if sample == "faultlab_requests_total":
                    key = f"{name} {labels.get('method', '?')} {labels.get('endpoint', '?')}"
                    counts[key] = counts.get(key, 0.0) + value
    return counts


async def measure(ref: InstalledRef, window_s: float, page: bool) -> dict[str, dict[str, float]]:
    """One fresh lab of `ref`, settled, measured over `window_s`: per role CPU %, wake-ups/s, processes; and, under
    the role "requests/s", the requests each service answered per second in the window, by endpoint."""
    home = Path(tempfile.mkdtemp(prefix=f"faultlab-idle-{ref.sha[:7]}-"))
    try:
        async with RefLab(ref, home, progress) as lab:
            await lab.start()
            settled = await lab.settle()
            stop = asyncio.Event()
            follower = asyncio.ensure_future(follow_page(lab.url("dashboard", "/api/stream"), stop)) if page else None
            if follower is not None:
                await asyncio.sleep(2.0)  # the dashboard switches to its watched cadence
            asked = await answered(lab)
            before = sample(lab.processes())
            started = time.perf_counter()
            await asyncio.sleep(window_s)
            after = sample(lab.processes())
            elapsed = time.perf_counter() - started
            asked = {key: (n - asked.get(key, 0.0)) / elapsed for key, n in (await answered(lab)).items()}
            stop.set()
            if follower is not None:
                with contextlib.suppress(Exception):
                    await follower
    finally:
        shutil.rmtree(home, ignore_errors=True)
    roles: dict[str, dict[str, float]] = {}
    for key, (named, cpu, switches) in after.items():
        role = named if key in before else "started in the window"
        _r, cpu0, switches0 = before.get(key, (role, 0.0, 0))
        row = roles.setdefault(role, {"cpu_pct": 0.0, "wakeups_per_s": 0.0, "processes": 0})
        row["cpu_pct"] += (cpu - cpu0) / elapsed * 100
        row["wakeups_per_s"] += (switches - switches0) / elapsed
        row["processes"] += 1
    progress(f"  {ref.label}: settled after {settled:.1f} s, {sum(r['cpu_pct'] for r in roles.values()):.1f} % "
             f"of one core in {len(after)} processes")
    return {**roles, "requests/s": {key: rate for key, rate in asked.items() if rate >= 0.01}}


def table(label: str, rounds: list[dict[str, dict[str, float]]]) -> list[str]:
    """Per role, the median over the rounds: CPU %, wake-ups/s, µs per wake-up, processes; the total last."""
    names = sorted({r for one in rounds for r in one if r != "requests/s"},
                   key=lambda r: -statistics.median(one.get(r, {}).get("cpu_pct", 0.0) for one in rounds))
    lines = [f"{label}, median of {len(rounds)} round(s)", "| process | CPU % of a core | wake-ups/s | µs CPU per "
             "wake-up | processes |", "|---|---|---|---|---|"]

    def row(name: str, cpu: float, wakeups: float, count: float) -> str:
        per = f"{cpu / 100 / wakeups * 1e6:,.0f}" if wakeups > 0 else "–"
        return f"| {name} | {cpu:.2f} | {wakeups:,.1f} | {per} | {count:g} |"

    for name in names:
        values = [one.get(name, {}) for one in rounds]
        lines.append(row(name, *(statistics.median(v.get(k, 0.0) for v in values)
                                 for k in ("cpu_pct", "wakeups_per_s", "processes"))))
    totals = [{k: sum(r[k] for name, r in one.items() if name != "requests/s")
               for k in ("cpu_pct", "wakeups_per_s", "processes")} for one in rounds]
    lines.append(row("**whole lab**", *(statistics.median(t[k] for t in totals)
                                        for k in ("cpu_pct", "wakeups_per_s", "processes"))))
    if len(rounds) > 1:
        cpus = [t["cpu_pct"] for t in totals]
        lines.append(f"whole lab per round: {', '.join(f'{c:.1f}' for c in cpus)} % of one core")
    return lines + requests_table(rounds)


def requests_table(rounds: list[dict[str, dict[str, float]]]) -> list[str]:
    """Requests answered per second in the window, by service and endpoint (median over the rounds), busiest
    first; this benchmark's own /metrics scrapes are among them (one per service in the window)."""
    keys = {k for one in rounds for k in one.get("requests/s", {})}
    if not keys:
        return []
    rates = {k: statistics.median(one.get("requests/s", {}).get(k, 0.0) for one in rounds) for k in keys}
    lines = ["", "| requests answered at rest (service, endpoint) | per second |", "|---|---|"]
    lines += [f"| {key} | {rate:.2f} |" for key, rate in sorted(rates.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines.append(f"| **all** (this benchmark's /metrics scrapes included) | {sum(rates.values()):.1f} |")
    return lines


async def main(args: argparse.Namespace) -> int:
    try:
        pins = working_tree_pins() if any(r != "." for r in args.refs) else {}
        refs = [working_tree() if r == "." else await asyncio.to_thread(install, r, pins, progress)
                for r in args.refs]
    except RefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    host = machine()
    results: dict[str, list[dict[str, dict[str, float]]]] = {ref.label: [] for ref in refs}
    for number in range(1, args.rounds + 1):
        progress(f"round {number}/{args.rounds} (load average {os.getloadavg()[0]:.1f})")
        for ref in refs:
            results[ref.label].append(await measure(ref, args.idle_seconds, args.page))
    print(f"\nidle lab{' with a dashboard page open' if args.page else ''}, {started}, {host}; "
          f"{args.idle_seconds:g} s window after settling")
    for label, rounds in results.items():
        print()
        print("\n".join(table(label, rounds)))
    if args.json:
        Path(args.json).write_text(json.dumps({"started_at": started, "machine": host, "page": args.page,
                                               "idle_seconds": args.idle_seconds, "results": results}, indent=2))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("refs", metavar="REF", nargs="*", default=["."],
                        help="refs to measure, alternating (`.` = the working tree; default `.`)")
    parser.add_argument("-n", "--rounds", type=int, default=1, help="rounds (default 1)")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="the window, s (default 20)")
    parser.add_argument("--page", action="store_true", help="with a dashboard page open (its live stream followed)")
    parser.add_argument("--json", metavar="FILE", help="every round's figures per role")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.idle_seconds < 1:
        parser.error("-n and --idle-seconds must be at least 1")
    return args


if __name__ == "__main__":
    raise SystemExit(run(main(parse_args())))
