"""Services forked from the template process: every service and spare is its child, one that dies is replaced and
reported with its exit code, and neither Ctrl-C while `faultlab up` starts nor `faultlab down` leaves a process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from benchmarks.harness import lab_settings
from faultlab.runtime.process import wait_spares_ready
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import get_json, inject

pytestmark = pytest.mark.timeout(240)
SERVICES = ("orders", "voter", "monitor", "dashboard", "inventory-1", "inventory-2", "inventory-3")


async def described(lab: Supervisor) -> list[dict[str, Any]]:
    return [p.describe() for p in lab.processes.values()]


async def spares_ready(lab: Supervisor) -> bool:
    """Every process that keeps a spare has one, done importing. The lab is shared: a test before may have stopped a
    process and started it again in-process (`ManagedProcess.stop()` ends its spare, `start()` arms none), so a
    missing spare is armed first (a no-op where one waits)."""
    for proc in lab.processes.values():
        proc.arm_spare_later(0.0)
    return await wait_spares_ready(lambda: described(lab), 60)


async def test_every_service_and_its_spare_are_children_of_the_template(settled: Supervisor) -> None:
    """Each service and each warm spare is a fork of the one template process (not a new Python), which the
    supervisor records in lab.json for `faultlab down`."""
    lab = settled
    assert await spares_ready(lab), await described(lab)
    assert lab.forkserver is not None and lab.forkserver.pid is not None
    template = lab.forkserver.pid
    for name in SERVICES:
        info = lab.processes[name].describe()
        assert info["forked"], name
        assert psutil.Process(info["pid"]).ppid() == template, name
        assert psutil.Process(info["spare_pid"]).ppid() == template, name
    state = json.loads((lab.home / "lab.json").read_text())
    assert state["processes"]["template"] == template


async def wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.02)


async def test_a_forked_service_that_dies_is_replaced_and_its_exit_code_reported(settled: Supervisor,
                                                                                http: aiohttp.ClientSession) -> None:
    """A replica's crash fault with exit code 7 and a kill -9 of the orders service: the supervisor records 7 and -9
    (its `/processes` says so), a forked process takes each one's place and the lab works again."""
    lab = settled
    assert await spares_ready(lab), await described(lab)
    replica, orders = lab.processes["inventory-2"], lab.processes["orders"]
    before = replica.pid, orders.pid
    await inject(http, lab, 2, kind="crash", exit_code=7)
    assert orders.signal(signal.SIGKILL)
    await wait_for(lambda: replica.pid not in (None, before[0]) and orders.pid not in (None, before[1]))
    assert replica.exits[-1][:2] == (before[0], 7) and orders.exits[-1][:2] == (before[1], -signal.SIGKILL)
    _status, listed = await get_json(http, f"http://127.0.0.1:{lab.settings.supervisor_port}/processes")
    by_name = {p["name"]: p for p in listed["processes"]}
    assert by_name["inventory-2"]["last_exit"]["code"] == 7
    assert by_name["orders"]["last_exit"]["code"] == -signal.SIGKILL
    assert by_name["inventory-2"]["forked"] and by_name["orders"]["forked"]
    await lab.wait_working(60)


def lab_env(home: Path) -> dict[str, str]:
    """The environment of a `faultlab` command for a lab of its own in `home`, on free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLAB_")}
    env.update(lab_settings(home).to_env())
    env.update(FAULTLAB_HOME=str(home), FAULTLAB_LANG="en", COLUMNS="120")
    return env


def leftovers(home: Path) -> list[str]:
    """Processes of the lab in `home` still running (not zombies): its environment or command line names it."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ", "status"], ad_value=None):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        env = proc.info.get("environ") or {}
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if env.get("FAULTLAB_HOME") == str(home) or f"{home}/" in cmdline:
            found.append(f"{proc.pid} {cmdline[:100]}")
    return found


async def started_phases(home: Path) -> list[str]:
    log = home / "logs" / "supervisor.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line.split("phase=")[1].split()[0] for line in text.splitlines() if "event=start_phase" in line]


@pytest.mark.parametrize("phase", ["template_launched", "services_spawned", "working"])
async def test_ctrl_c_while_up_starts_leaves_nothing_behind(tmp_path: Path, phase: str) -> None:
    """`faultlab up` interrupted once the template is forked, once the services are forked, or once it works: it
    exits, and no process of that lab (template, services, spares, broker, PostgreSQL) is left running."""
    home = tmp_path / "lab"
    up = await asyncio.create_subprocess_exec(sys.executable, "-m", "faultlab", "up", env=lab_env(home),
                                              stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while phase not in await started_phases(home):
            assert up.returncode is None, (await up.stderr.read()).decode() if up.stderr else ""
            assert time.monotonic() < deadline, f"no {phase} in 90 s"
            await asyncio.sleep(0.005)
        up.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(up.wait(), 60) in (0, 130)
    finally:
        if up.returncode is None:
            up.kill()
            await up.wait()
    await asyncio.sleep(0.2)
    assert leftovers(home) == []


async def test_up_detach_then_down_leaves_nothing_behind(tmp_path: Path) -> None:
    """`faultlab up --detach` returns once the lab works (its supervisor a fork of the command); `faultlab down`
    then stops every process of it, the template included."""
    home = tmp_path / "lab"
    env = lab_env(home)

    async def faultlab(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "faultlab", *args, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode()

    try:
        code, out = await faultlab("up", "--detach")
        assert code == 0 and "lab working" in out, out
        state = json.loads((home / "lab.json").read_text())
        assert psutil.Process(state["processes"]["template"]).name() == "template"
        assert psutil.Process(state["processes"]["inventory-1"]).ppid() == state["processes"]["template"]
    finally:
        code, out = await faultlab("down")
    assert code == 0 and "lab stopped" in out, out
    assert leftovers(home) == []
