"""The template process: a forked child runs the `faultlab` command it is given and its exit code comes back, a
forked spare waits for "go", a killed child reports the signal, and nothing the template forked outlives it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import pytest_asyncio

from faultlab.runtime.forkserver import UNKNOWN_EXIT, ForkServer, ForkServerGone

pytestmark = pytest.mark.timeout(60)


def alive(pid: int) -> bool:
    """Running, and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest_asyncio.fixture(loop_scope="function")
async def server(tmp_path: Path) -> AsyncIterator[ForkServer]:
    """A template process started as a new Python process (as the test suite's labs start theirs)."""
    forks = ForkServer(tmp_path)
    await forks.start()
    yield forks
    await forks.stop()


async def test_a_child_runs_the_faultlab_command_and_its_exit_code_comes_back(server: ForkServer,
                                                                            tmp_path: Path) -> None:
    """`serve inventory` without `--replica` exits 2 with its message, in the child's own log file."""
    log = tmp_path / "child.log"
    child = await server.spawn(["serve", "inventory"], dict(os.environ), log, "inventory-9")
    assert child.pid != server.pid
    assert await asyncio.wait_for(child.wait(), 30) == 2
    assert "--replica" in log.read_text()


async def test_a_forked_spare_waits_for_go_and_leaves_at_the_end_of_its_input(server: ForkServer,
                                                                              tmp_path: Path) -> None:
    """A spare (`--spare`, a pipe on stdin) waits; closing its stdin lets it go with code 0. It runs in a session of
    its own under its name, and is the template's child."""
    spare = await server.spawn(["serve", "voter", "--spare"], dict(os.environ), tmp_path / "voter.log", "s:voter",
                               stdin_pipe=True)
    await asyncio.sleep(0.5)
    assert spare.returncode is None and alive(spare.pid)
    proc = psutil.Process(spare.pid)
    assert proc.name() == "s:voter" and proc.ppid() == server.pid and os.getsid(spare.pid) == spare.pid
    assert spare.stdin is not None
    spare.stdin.close()
    assert await asyncio.wait_for(spare.wait(), 30) == 0


async def test_a_killed_child_reports_the_signal_as_asyncio_does(server: ForkServer, tmp_path: Path) -> None:
    """SIGKILL: the return code is -9, as `asyncio.subprocess.Process` gives it."""
    spare = await server.spawn(["serve", "voter", "--spare"], dict(os.environ), tmp_path / "v.log", "s:voter",
                               stdin_pipe=True)
    spare.kill()
    assert await asyncio.wait_for(spare.wait(), 30) == -signal.SIGKILL


async def test_stopping_the_template_leaves_nothing_it_forked(tmp_path: Path) -> None:
    """Children still running when the supervisor stops the template are killed and reaped, the template is gone."""
    forks = ForkServer(tmp_path)
    await forks.start()
    spare = await forks.spawn(["serve", "voter", "--spare"], dict(os.environ), tmp_path / "v.log", "s:voter",
                              stdin_pipe=True)
    template = forks.pid
    assert template is not None and alive(spare.pid)
    await forks.stop()
    assert not alive(spare.pid) and not alive(template)
    with pytest.raises(ForkServerGone):
        await forks.spawn(["serve", "voter"], dict(os.environ), tmp_path / "v.log", "voter")


async def test_a_killed_template_still_lets_the_supervisor_see_its_children_exit(server: ForkServer,
                                                                                tmp_path: Path) -> None:
    """The template killed: its running child is still watched (pidfd), its exit code unknown; new forks are refused
    (the supervisor then starts the process the usual way)."""
    spare = await server.spawn(["serve", "voter", "--spare"], dict(os.environ), tmp_path / "v.log", "s:voter",
                               stdin_pipe=True)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    while not server.gone:
        await asyncio.sleep(0.01)
    assert spare.returncode is None and alive(spare.pid)
    with pytest.raises(ForkServerGone):
        await server.spawn(["serve", "voter"], dict(os.environ), tmp_path / "v.log", "voter")
    os.kill(spare.pid, signal.SIGKILL)
    assert await asyncio.wait_for(spare.wait(), 30) == UNKNOWN_EXIT


FORK_HERE = textwrap.dedent("""
    import asyncio, os, sys
    from pathlib import Path
    from faultlab.runtime.forkserver import ForkServer

    forks = ForkServer.fork_here(Path(sys.argv[1]))
    assert forks is not None and forks.pid is not None

    async def main():
        await forks.start()
        child = await forks.spawn(["serve", "inventory"], dict(os.environ), Path(sys.argv[1]) / "c.log", "c")
        print(await child.wait(), forks.pid, flush=True)
        await forks.stop()

    asyncio.run(main())
""")


def test_a_template_forked_from_the_command_serves_the_same(tmp_path: Path) -> None:
    """`faultlab up` forks its template from itself (no thread, no loop yet): it forks children and reports their
    exit codes as a new Python template does, and is gone after stop."""
    done = subprocess.run([sys.executable, "-c", FORK_HERE, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    code, template = done.stdout.split()
    assert code == "2" and not alive(int(template))
    assert "--replica" in (tmp_path / "c.log").read_text()


def test_a_process_with_threads_does_not_fork_its_template(tmp_path: Path) -> None:
    """Forking a process with other threads would copy their locks mid-use: `fork_here` declines (None)."""
    script = ("import threading, time, sys; from pathlib import Path; from faultlab.runtime.forkserver import "
              "ForkServer; threading.Thread(target=time.sleep, args=(2,), daemon=True).start(); "
              "print(ForkServer.fork_here(Path(sys.argv[1])))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "None", done.stderr
