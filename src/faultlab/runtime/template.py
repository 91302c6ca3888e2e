"""The template process itself: it imports every service's modules once, then forks a child per request of the
supervisor (runtime/forkserver.py is the supervisor's end, and says why).

It runs as `python -m faultlab.runtime.template FD PARENT_PID`, or forked by the `faultlab up` command. It has no
thread and no event loop, so each child starts clean: its own session, stdin and log file (received as descriptors),
environment and niceness, then exactly what `python -m faultlab <args>` runs. The template is the children's parent:
it reaps them and sends each exit code back. It dies with the supervisor (parent-death signal) and, when the
supervisor closes the socket, kills whatever it forked that still runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any, NoReturn

from faultlab.core import i18n

# What the services import, imported once here (each service module pulls in core, faults, openapi and the
# libraries); `faultlab.cli` is what a child runs, its parser built once so its lazy imports are done too.
PRELOAD = ("faultlab.cli", "faultlab.shop.inventory.app", "faultlab.shop.orders.app", "faultlab.shop.monitor.app",
           "faultlab.shop.voter.app", "faultlab.lab.dashboard.app", "uvloop", "babel.numbers")
MAX_MESSAGE_BYTES = 1 << 18
PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15


def _prctl(option: int, value: int | bytes) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _child(request: dict[str, Any], stdin_fd: int, log_fd: int, close: list[int]) -> NoReturn:
    """In the forked child: become the service (own session, stdin, log, environment, niceness), run
    `faultlab <args>`, exit with its code."""
    code = 1
    try:
        os.setsid()
        os.dup2(stdin_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for fd in {stdin_fd, log_fd, *close}:
            if fd > 2:
                os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        if request["nice"]:
            os.nice(request["nice"])
        _prctl(PR_SET_NAME, request["name"].encode()[:15])
        sys.argv = ["faultlab", *request["args"]]
        code = int(importlib.import_module("faultlab.cli").main(request["args"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _reap(sock: socket.socket, children: set[int]) -> None:
    """Report every child that exited: {"exited": pid, "code": as asyncio gives it (-N: killed by signal N)}."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        with contextlib.suppress(OSError):
            sock.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def serve(fd: int, parent: int) -> int:
    """The template's life: import, then fork on request until the supervisor closes the socket."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the supervisor gone (even killed): so is the template
    _prctl(PR_SET_NAME, b"template")  # what `ps` shows (a forked one has the command line of `faultlab up`)
    if os.getppid() != parent:
        return 0
    sock = socket.socket(fileno=fd)
    for module in PRELOAD:
        importlib.import_module(module)
    lang = i18n.resolve()
    i18n.activate_for_cli(lang)
    importlib.import_module("faultlab.cli").parser_for(lang)  # each child parses `serve …` with this one
    gc.collect()
    gc.freeze()  # what the imports built is shared with every child, not copied by their collector's first pass
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                continue
            message, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE_BYTES, 2)
            if not message:  # the supervisor is done: nothing it did not stop outlives the template
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                for pid in children:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)
                return 0
            request = json.loads(message)
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:
                sock.send(json.dumps({"id": request["id"], "error": str(exc)}).encode())
            else:
                if pid == 0:
                    _child(request, fds[0], fds[1], [sock.fileno(), wake_r, wake_w, selector.fileno()])
                children.add(pid)
                sock.send(json.dumps({"id": request["id"], "pid": pid}).encode())
            finally:
                for received in fds:
                    os.close(received)
        _reap(sock, children)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
