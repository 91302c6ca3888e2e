"""`faultlab up`: the supervisor in this process until Ctrl-C, or (`--detach`) in a process of its own session until
`faultlab down`; the template process the services are forked from is forked here first (runtime/forkserver.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from faultlab.cli.console import client as _client
from faultlab.cli.console import console as _console
from faultlab.cli.console import settings as _settings
from faultlab.cli.console import with_client as _with_client
from faultlab.cli.status_table import show_status
from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.i18n import _


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.no_restart:
        settings = settings.model_copy(update={"restart_crashed": False})
    if args.detach:
        return _up_detached(settings, args)
    return _up_foreground(settings, args)


def _up_foreground(settings: Settings, args: argparse.Namespace) -> int:
    """The supervisor in this process until Ctrl-C or SIGTERM (`up`, and the process `up --detach` forks)."""
    forkserver = None
    if settings.template_process and not args.netns:
        # Forked first: it starts with what this command imported and imports the services while the supervisor
        # below imports itself and starts PostgreSQL and the broker (runtime/forkserver.py).
        from faultlab.runtime.forkserver import ForkServer

        forkserver = ForkServer.fork_here(settings.home.resolve() / "logs")
    from faultlab.runtime.supervisor import Supervisor, SupervisorError

    console = _console()

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            supervisor = Supervisor(settings, progress=console.log, netns=args.netns, forkserver=forkserver)
        except SupervisorError as exc:
            if forkserver is not None:
                await forkserver.stop()
            console.print("[bold red]" + _("error:") + f"[/] {exc}")
            return 1
        started = time.perf_counter()
        start = asyncio.create_task(supervisor.start(timeout_s=args.timeout))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({start, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not start.done():
                console.print("[yellow]" + _("interrupted while starting; stopping what was started") + "[/]")
                start.cancel()
                with contextlib.suppress(BaseException):
                    await start
                return 130
            start.result()
            console.print(_("[bold green]lab working[/] in {seconds} s (lab folder {home}); Ctrl-C stops everything")
                          .format(seconds=i18n.number(time.perf_counter() - started, 2), home=supervisor.home))
            async with _client(args) as client:
                await show_status(console, client)
            await stopper
            console.print(_("stopping the lab…"))
            return 0
        except SupervisorError as exc:
            console.print("[bold red]" + _("error:") + f"[/] {exc}")
            return 1
        finally:
            stopper.cancel()
            await supervisor.stop()
            console.print(_("lab stopped"))

    # The supervisor uses the standard event loop: uvloop cannot spawn a child as another user (PostgreSQL).
    return asyncio.run(run())


def _up_detached(settings: Settings, args: argparse.Namespace) -> int:
    """Start the supervisor in a process of its own session (a fork of this one, past its imports), wait until the
    lab works, print the status table."""
    import threading

    from faultlab.core.config import STATE_FILE

    console = _console()
    home = settings.home.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    state = home / STATE_FILE
    if state.exists():
        console.print("[yellow]" + _("a lab seems to be running already ({state}); `faultlab down` first").format(
            state=state) + "[/]")
        return 1
    log_path = home / "logs" / "supervisor.log"
    # What the status table at the end needs, imported before the fork: the supervisor needs it too.
    import faultlab.core.client
    import faultlab.runtime.state  # noqa: F401

    gc.freeze()  # what the imports built is never collected: this command exits sooner, its fork scans less
    started = time.perf_counter()
    if threading.active_count() == 1:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_supervisor(settings, args, home, log_path)
    else:  # forking would copy another thread's locks mid-use: a new Python process instead
        pid = _spawn_supervisor(args, home, log_path)
    with console.status(_("starting the lab…")):
        while True:
            if _exited(pid):
                console.print(_("[bold red]the lab failed to start[/]; see {path}").format(path=log_path))
                console.print(log_path.read_text()[-3000:])
                return 1
            if state.exists():
                with contextlib.suppress(ValueError, OSError):
                    if json.loads(state.read_text()).get("ready_at"):
                        break
            if time.perf_counter() - started > args.timeout + 10:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                console.print(_("[bold red]the lab did not become ready in time[/]; see {path}").format(path=log_path))
                return 1
            time.sleep(0.02)
    console.print(_("[bold green]lab working[/] in {seconds} s; `faultlab down` stops it").format(
        seconds=i18n.number(time.perf_counter() - started, 2)))
    _with_client(args, lambda client: show_status(console, client))
    return 0


def _become_supervisor(settings: Settings, args: argparse.Namespace, home: Path, log_path: Path) -> None:
    """In the forked child of `up --detach`: a session of its own, output to the supervisor's log, then `up`."""
    code = 1
    try:
        os.setsid()
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.close(null_fd)
        os.environ.update(FAULTLAB_HOME=str(home), COLUMNS="120")
        code = _up_foreground(settings, args)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _spawn_supervisor(args: argparse.Namespace, home: Path, log_path: Path) -> int:
    """`faultlab up` as a new Python process in its own session, output to the supervisor's log; its pid."""
    argv = [sys.executable, "-m", "faultlab", "up", "--timeout", str(args.timeout)]
    if args.no_restart:
        argv.append("--no-restart")
    if args.netns:
        argv.append("--netns")
    env = {**os.environ, "FAULTLAB_HOME": str(home), "COLUMNS": "120"}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                 env=env)
    return child.pid


def _exited(pid: int) -> bool:
    """The child `up --detach` started has exited (and is reaped)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True
