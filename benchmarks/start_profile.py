"""Where a warm start's seconds go: the working tree's `faultlab up --detach` on a lab folder that exists, timed
piece by piece.

Prints one timeline per warm start, in seconds from the command's launch: the supervisor's own steps (its log's
`start_phase` lines: PostgreSQL and the broker spawned and listening, the database, the topics, the services
spawned, each service found working, the monitor with everything ON), each service's process created, imports
done (`imported` in its log), listening and working, the command returned, and the first voted read (200) and
order (201) — the paired benchmark's "warm start to working". Then the CPU each kind of process spent until then.

    .venv/bin/python benchmarks/start_profile.py [--warm 3]

A first (cold) start creates the lab folder and is not profiled. Run it under the machine's heavy lock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from calendar import timegm
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import free_block, run
from benchmarks.paired_lab import PORT_NAMES, PRODUCTS, REPLICAS, STOCK, leftovers
from benchmarks.paired_stats import process_role

SAMPLE_S = 0.05
LINE = re.compile(r"^ts=(\S+) level=\S+ event=(\S+)(.*)$")


def log_time(stamp: str) -> float:
    """`2026-12-07T16:29:01.123Z` as seconds since the epoch."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    return timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(rest or 0) / 1000


def log_events(path: Path, since: float) -> list[tuple[float, str, str]]:
    """(time, event, the rest of the line) of a log file's key=value lines at or after `since`."""
    found = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            match = LINE.match(line)
            if match and (at := log_time(match[1])) >= since - 0.001:
                found.append((at, match[2], match[3]))
    return found


def role_of(proc: psutil.Process, names: dict[int, str]) -> str:
    """A lab process's role: the supervisor's name for it, else from its command line and name."""
    if proc.pid in names:
        return names[proc.pid]
    with contextlib.suppress(psutil.Error):
        return process_role(proc.cmdline(), proc.name())
    return "?"


class Lab:
    """The working tree's lab in a temporary folder on free ports."""

    def __init__(self, home: Path) -> None:
        self.home = home
        base = free_block(16)
        self.ports = {name: base + i for i, name in enumerate(PORT_NAMES)}
        self.replica_base = base + 10
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLAB_")}
        self.env.update({f"FAULTLAB_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        self.env.update(FAULTLAB_HOME=str(home), FAULTLAB_INVENTORY_BASE_PORT=str(self.replica_base),
                        FAULTLAB_REPLICAS=str(REPLICAS), FAULTLAB_INITIAL_STOCK=json.dumps(STOCK),
                        FAULTLAB_LANG="en", COLUMNS="120")
        self.faultlab = str(Path(sys.executable).with_name("faultlab"))

    def down(self) -> None:
        subprocess.run([self.faultlab, "down"], env=self.env, capture_output=True, timeout=60, check=False)
        for proc in leftovers(self.home):
            with contextlib.suppress(psutil.Error):
                proc.kill()

    async def profile(self, session: aiohttp.ClientSession) -> dict[str, object]:
        """One start, sampled: the timeline and the CPU by role."""
        seen: dict[tuple[int, float], tuple[psutil.Process, float]] = {}  # (pid, created) -> (process, cpu s)
        names: dict[int, str] = {}
        t0 = time.time()
        cli = subprocess.Popen([self.faultlab, "up", "--detach"], env=self.env,  # noqa: ASYNC220 (reaped by wait4)
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        usage: dict[str, float] = {}

        def reap() -> None:  # the command's own CPU, from the kernel's account of it
            _pid, status, rusage = os.wait4(cli.pid, 0)
            usage.update(code=os.waitstatus_to_exitcode(status), cpu=rusage.ru_utime + rusage.ru_stime,
                         returned=time.time())

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        supervisor: psutil.Process | None = None
        working = {}
        while "voted" not in working or "order" not in working:
            if time.time() - t0 > 90:
                raise RuntimeError("the lab did not work in 90 s")
            if supervisor is None:
                with contextlib.suppress(psutil.Error):
                    children = psutil.Process(cli.pid).children()
                    supervisor = children[0] if children else None
            for proc in ([supervisor, *supervisor.children(recursive=True)] if supervisor else []):
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    seen[(proc.pid, proc.create_time())] = (proc, times.user + times.system)
            if "returned" in usage and "voted" not in working:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"http://127.0.0.1:{self.ports['voter']}/inventory/voted") as resp:
                        if resp.status == 200:
                            working["voted"] = time.time()
            if "voted" in working and "order" not in working:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    body = {"product_id": PRODUCTS[0], "quantity": 1}
                    async with session.post(f"http://127.0.0.1:{self.ports['orders']}/orders", json=body) as resp:
                        if resp.status == 201:
                            working["order"] = time.time()
            await asyncio.sleep(SAMPLE_S)
        reaper.join()
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            async with session.get(f"http://127.0.0.1:{self.ports['supervisor']}/processes") as resp:
                listed = (await resp.json())["processes"]
                names = {p["pid"]: p["name"] for p in listed if p.get("pid")}
                names.update({p["spare_pid"]: "spares" for p in listed if p.get("spare_pid")})
        return self._report(t0, usage, working, seen, names)

    def _report(self, t0: float, usage: dict[str, float], working: dict[str, float],
                seen: dict[tuple[int, float], tuple[psutil.Process, float]], names: dict[int, str]) -> dict[str, object]:
        timeline: list[tuple[float, str]] = [(0.0, "`faultlab up --detach` launched")]
        logs = self.home / "logs"
        for at, event, rest in log_events(logs / "supervisor.log", t0):
            if event == "start_phase":
                fields = dict(re.findall(r"(\w+)=(\S+)", rest))
                label = fields.get("phase", "?") + (f" {fields['name']}" if "name" in fields else "")
                timeline.append((at - t0, f"supervisor: {label}"))
        cpu_by_role: dict[str, float] = {"`up --detach` (the command)": usage.get("cpu", 0.0)}
        for (_pid, created), (proc, cpu) in seen.items():
            role = role_of(proc, names)
            cpu_by_role[role] = cpu_by_role.get(role, 0.0) + cpu
            if role in names.values() and role not in ("postgres", "broker", "spares"):
                timeline.append((created - t0, f"{role}: process created"))
            elif role == "supervisor":
                timeline.append((created - t0, "supervisor: process created"))
        for path in sorted(logs.glob("*.log")):
            if path.stem in ("supervisor", "postgres", "broker"):
                continue
            for at, event, rest in log_events(path, t0):
                if event in ("imported", "listening"):
                    timeline.append((at - t0, f"{path.stem}: {event}"))
                elif event == "state_change":  # the monitor's verdict on a replica
                    fields = dict(re.findall(r"(\w+)=(\S+)", rest))
                    timeline.append((at - t0, f"monitor: inventory-{fields.get('replica')} {fields.get('status')}"))
        timeline += [(usage["returned"] - t0, "`faultlab up --detach` returned"),
                     (working["voted"] - t0, "first voted read 200"), (working["order"] - t0, "first order 201")]
        return {"t0": t0, "timeline": sorted(timeline), "cpu_by_role": dict(sorted(cpu_by_role.items(), key=lambda i: -i[1])),
                "returned_s": usage["returned"] - t0, "working_s": working["order"] - t0}


async def main(args: argparse.Namespace) -> int:
    home = Path(tempfile.mkdtemp(prefix="faultlab-start-profile-"))
    lab = Lab(home)
    results = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            print(f"cold start in {home} (not profiled)", flush=True)
            await lab.profile(session)
            await asyncio.to_thread(lab.down)
            for index in range(args.warm):
                await asyncio.sleep(args.pause)
                load = os.getloadavg()[0]
                result = await lab.profile(session)
                await asyncio.to_thread(lab.down)
                results.append(result)
                print(f"\nwarm start {index + 1}: working in {result['working_s']:.2f} s "
                      f"(command returned at {result['returned_s']:.2f} s; load average {load:.1f})")
                for at, what in result["timeline"]:  # type: ignore[attr-defined]
                    print(f"  {at:7.3f} s  {what}")
                print("  CPU until working, by process (s): " + ", ".join(
                    f"{role} {cpu:.2f}" for role, cpu in result["cpu_by_role"].items()))  # type: ignore[attr-defined]
    finally:
        await asyncio.to_thread(lab.down)
        if args.keep:
            print(f"lab folder kept: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    working = [float(r["working_s"]) for r in results]  # type: ignore[arg-type]
    if working:
        print(f"\nwarm start to working: median {statistics.median(working):.2f} s "
              f"[{min(working):.2f}–{max(working):.2f}] over {len(working)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=3, help="warm starts to profile (default 3)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between a stop and the next start")
    parser.add_argument("--json", help="write every start's timeline and CPU to this file")
    parser.add_argument("--keep", action="store_true", help="keep the lab folder (its logs) after the run")
    sys.exit(run(main(parser.parse_args())))
