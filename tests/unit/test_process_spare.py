"""Warm spares: a crashed child is replaced by the spare that was waiting, the spare is replaced in turn,
and nothing is left running after stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from faultlab.runtime import process as process_module
from faultlab.runtime.process import ManagedProcess, ProcessSpec, spares_idle

# A stand-in service: a spare waits for "go" (and leaves on anything else or end of input), then it runs.
CHILD = """
import sys, time
if "--spare" in sys.argv:
    if sys.stdin.readline().strip() != "go":
        sys.exit(0)
print("serving", flush=True)
time.sleep(60)
"""


def spec(spare: bool = True) -> ProcessSpec:
    argv = [sys.executable, "-c", CHILD]
    return ProcessSpec(name="child", argv=argv, spare_argv=[*argv, "--spare"] if spare else None)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def until(predicate, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def quick_rearm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_module, "SPARE_DELAY_S", 0.1)


async def test_a_crashed_child_is_replaced_by_its_waiting_spare(tmp_path: Path) -> None:
    proc = ManagedProcess(spec(), tmp_path)
    await proc.start()
    try:
        await proc.arm_spare()
        spare, first = proc.spare_pid, proc.pid
        assert spare is not None and first is not None and spare != first
        proc._respawned.clear()
        assert proc.signal(signal.SIGKILL)
        await asyncio.wait_for(proc._respawned.wait(), 10)
        assert proc.pid == spare, "the spare took over, no new process was started"
        assert proc.restarts == 1 and proc.promotions == 1
        await until(lambda: proc.spare_pid is not None)  # and a new spare waits for the next crash
        assert proc.spare_pid not in (first, spare)
        await until(lambda: b"serving" in (tmp_path / "child.log").read_bytes())
    finally:
        await proc.stop()
    assert proc.spare_pid is None and not proc.running


async def test_stop_lets_the_waiting_spare_go(tmp_path: Path) -> None:
    proc = ManagedProcess(spec(), tmp_path)
    await proc.start()
    await proc.arm_spare()
    spare = proc.spare
    assert spare is not None and proc.spare_pid is not None
    await proc.stop()
    assert spare.returncode == 0, "end of input: the spare left by itself"
    assert not alive(spare.pid)


async def test_without_a_ready_spare_a_new_process_is_started(tmp_path: Path) -> None:
    plain = ManagedProcess(spec(spare=False), tmp_path)
    await plain.start()
    try:
        first = plain.pid
        await plain.arm_spare()
        assert plain.spare_pid is None
        plain._respawned.clear()
        plain.signal(signal.SIGKILL)
        await asyncio.wait_for(plain._respawned.wait(), 10)
        assert plain.pid not in (None, first) and plain.promotions == 0
    finally:
        await plain.stop()

    process_module.SPARE_DELAY_S = 30.0  # the next spare is not ready when the promoted child dies too
    looping = ManagedProcess(spec(), tmp_path)
    await looping.start()
    try:
        await looping.arm_spare()
        looping._respawned.clear()
        looping.signal(signal.SIGKILL)
        await asyncio.wait_for(looping._respawned.wait(), 10)
        promoted = looping.pid
        looping._respawned.clear()
        looping.signal(signal.SIGKILL)  # before a new spare: a new process, after the backoff
        await asyncio.wait_for(looping._respawned.wait(), 10)
        assert looping.promotions == 1 and looping.restarts == 2
        assert looping.pid not in (None, promoted) and looping.spare_pid is None
    finally:
        await looping.stop()


async def test_no_spare_when_restarts_are_off(tmp_path: Path) -> None:
    s = spec()
    s.restart = False
    proc = ManagedProcess(s, tmp_path)
    await proc.start()
    try:
        await proc.arm_spare()
        assert proc.spare_pid is None
    finally:
        await proc.stop()


async def test_spares_idle_waits_for_the_cpu_time_to_stop_growing() -> None:
    """A spare still busy (importing) is not idle; one blocked on its stdin is; a gone one counts nothing."""
    busy = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
    waiting = await asyncio.create_subprocess_exec(sys.executable, "-c", "import sys; sys.stdin.readline()",
                                                   stdin=asyncio.subprocess.PIPE)
    try:
        # 1 s steps: on a heavily loaded machine a busy process may get under 5 ms of CPU in a short step
        assert not await spares_idle([busy.pid, waiting.pid], timeout_s=3.0, step_s=1.0)
        assert await spares_idle([waiting.pid], timeout_s=5.0, step_s=0.3)
        assert await spares_idle([], timeout_s=1.0, step_s=0.1)
    finally:
        busy.kill()
        await busy.wait()
        assert waiting.stdin is not None
        waiting.stdin.close()
        await waiting.wait()
    assert await spares_idle([busy.pid], timeout_s=1.0, step_s=0.1)  # gone: nothing left to wait for


def test_a_stale_postgres_lock_file_is_cleared_unless_a_postgres_holds_it(tmp_path) -> None:
    """postmaster.pid naming a dead process, a malformed one, or a PID now used by another program (PIDs come round
    on a busy machine) is removed before postgres starts again; one naming a live postgres is kept."""
    import os
    import subprocess

    from faultlab.runtime.postgres import _clear_stale_pidfile

    pidfile = tmp_path / "postmaster.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    for content in (f"{dead.pid}\n/data\n", "garbage\n", f"{os.getpid()}\n/data\n"):
        pidfile.write_text(content)
        _clear_stale_pidfile(pidfile)
        assert not pidfile.exists(), content
    fake = tmp_path / "postgres"  # a live process whose name is postgres
    fake.symlink_to("/bin/sleep")
    holder = subprocess.Popen([str(fake), "5"])
    try:
        pidfile.write_text(f"{holder.pid}\n/data\n")
        _clear_stale_pidfile(pidfile)
        assert pidfile.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(("pieces", "expected"), [([b"g", b"o\n"], True), ([b"go\n"], True), ([b"stop\n"], False),
                                                  ([], False)])
async def test_a_replica_spare_waiting_on_its_event_loop_leaves_only_on_go(monkeypatch: pytest.MonkeyPatch,
                                                                           pieces: list[bytes],
                                                                           expected: bool) -> None:
    """A replica's spare waits for its word on its event loop (its connections open meanwhile): the line "go", even
    written in pieces, lets it go; another line or the end of input (the pipe closed) says it is not needed."""
    from faultlab.cli.control import go_on_stdin

    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read_fd))  # closed below
    loop = asyncio.get_running_loop()
    for at, piece in enumerate(pieces):
        loop.call_later(0.02 * (at + 1), os.write, write_fd, piece)
    loop.call_later(0.02 * (len(pieces) + 1), os.close, write_fd)
    try:
        assert await asyncio.wait_for(go_on_stdin(), 5) is expected
    finally:
        sys.stdin.close()
