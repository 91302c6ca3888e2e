"""The dashboard's experiment child: its state and its `running` flag never disagree, from spawn to exit."""

from __future__ import annotations

import asyncio
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


async def test_interrupt_is_ctrl_c_and_the_state_says_so(tmp_path: Path) -> None:
    run = Scripted(tmp_path, "import time\ntry:\n time.sleep(30)\nexcept KeyboardInterrupt:\n raise SystemExit(130)")
    await run.start()
    stopped = await run.interrupt()
    consistent(stopped)
    assert stopped["state"] == "interrupted" and stopped["exit_code"] == 130
