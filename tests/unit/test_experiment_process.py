"""The dashboard's experiment child: its state and its `running` flag never disagree, from spawn to exit."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import pytest

from faultlab.core.config import Settings
from faultlab.core.web import ApiError
from faultlab.lab.dashboard.operator import ExperimentProcess


class Scripted(ExperimentProcess):
    """The real process handling, with a small Python script in place of `faultlab experiment`."""

    def __init__(self, tmp_path: Path, script: str) -> None:
        super().__init__(Settings(), tmp_path)
        self.script = script

    def command(self, phases: str | None) -> list[str]:
        return [sys.executable, "-c", self.script]


def consistent(x: dict) -> None:
    assert x["running"] == (x["state"] == "running"), x
    assert (x["exit_code"] is None) == x["running"], x


async def watch(run: Scripted, seconds: float) -> list[dict]:
    seen = []
    for _ in range(int(seconds / 0.01)):
        x = run.describe()
        consistent(x)
        seen.append(x)
        if not x["running"]:
            break
        await asyncio.sleep(0.01)
    return seen


@pytest.mark.parametrize(("code", "state"), [(0, "finished"), (1, "missed")])
async def test_a_run_is_running_until_its_output_is_read_then_reports_its_exit(
        tmp_path: Path, code: int, state: str) -> None:
    run = Scripted(tmp_path, f"import sys, time\nfor i in range(3):\n print('line', i, flush=True); time.sleep(0.3)\n"
                             f"sys.exit({code})")
    started = await run.start()
    consistent(started)
    assert started["running"] and started["pid"]
    with pytest.raises(ApiError) as second:
        await run.start()
    assert second.value.status == 409
    seen = await watch(run, 5.0)
    final = seen[-1]
    assert final["state"] == state and final["exit_code"] == code and final["lines"] == 3, final
    assert final["output"] == ["line 0", "line 1", "line 2"]


async def test_a_command_that_exits_at_once_with_an_error_is_refused(tmp_path: Path) -> None:
    run = Scripted(tmp_path, "import sys; sys.exit(2)")
    with pytest.raises(ApiError) as refused:
        await run.start()
    assert refused.value.status == 502
    consistent(run.describe())
    assert run.describe()["state"] == "failed"


async def until_output(run: Scripted, line: str, seconds: float = 30.0) -> None:
    """Wait until the child printed `line` (it is past its start-up: a loaded machine may take seconds)."""
    for _ in range(int(seconds / 0.01)):
        if line in run.describe()["output"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {line!r} within {seconds} s: {run.describe()}")


async def test_interrupt_is_ctrl_c_and_the_state_says_so(tmp_path: Path) -> None:
    """Stop sends SIGINT; a child that handles it (as `faultlab experiment` does) exits 130: interrupted."""
    run = Scripted(tmp_path, "import time\ntry:\n print('ready', flush=True)\n time.sleep(30)\n"
                             "except KeyboardInterrupt:\n raise SystemExit(130)")
    await run.start()
    await until_output(run, "ready")
    stopped = await run.interrupt()
    consistent(stopped)
    assert stopped["state"] == "interrupted" and stopped["exit_code"] == 130


async def test_a_stop_before_the_child_handles_ctrl_c_is_still_an_interruption(tmp_path: Path) -> None:
    """A child killed by the operator's SIGINT before its handler was set (still starting) was interrupted, not
    failed; the same death without a stop pressed is a failure."""
    script = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\nprint('ready', flush=True)\n"
    run = Scripted(tmp_path, script + "time.sleep(30)")
    await run.start()
    await until_output(run, "ready")
    stopped = await run.interrupt()
    consistent(stopped)
    assert stopped["state"] == "interrupted" and stopped["exit_code"] == -2
    killed = Scripted(tmp_path, script + "import os\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(30)")
    with contextlib.suppress(ApiError):  # dying within the start check, it is refused as a command that cannot run
        await killed.start()
    final = (await watch(killed, 20.0))[-1]
    assert final["state"] == "failed" and final["exit_code"] == -2, final


async def test_stop_works_from_a_dashboard_that_runs_with_ctrl_c_ignored(tmp_path: Path) -> None:
    """A dashboard started in the background has SIGINT ignored; its experiment child gets SIGINT back to its default,
    so the stop button's Ctrl-C still interrupts it (exit 130), not a SIGKILL 20 s later."""
    run = Scripted(tmp_path, "import time\ntry:\n print('ready', flush=True)\n time.sleep(30)\n"
                             "except KeyboardInterrupt:\n raise SystemExit(130)")
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        await run.start()
    finally:
        signal.signal(signal.SIGINT, before)
    await until_output(run, "ready")
    stopped = await run.interrupt()
    assert stopped["state"] == "interrupted" and stopped["exit_code"] == 130, stopped
