"""The supervisor's end of the template process: one Python process that imports every service's modules once,
then forks each service (the template's own code is runtime/template.py).

A new Python process spends most of a second importing aiohttp, aiokafka, asyncpg and pydantic on a busy 2-core
machine; seven of them at once were most of a lab's start. The supervisor starts one template process instead
(forked by the `faultlab up` command before anything else, or `python -m faultlab.runtime.template`), while
PostgreSQL and the broker come up; it imports the services' modules (by name: the runtime does not import the shop) and waits on a socket. For each service the
supervisor sends the `faultlab` arguments (`serve inventory --replica 1`), the environment, the niceness and the
child's stdin and log file (passed as descriptors); the template forks a child that runs exactly what
`python -m faultlab serve …` runs, past its imports already. The template has no thread and no event loop when it
forks: the child starts its own. Warm spares come from it too (`serve … --spare`: a fork waiting for "go").

The template is the children's parent: it reaps them and reports each exit code to the supervisor (`ForkedProcess`
behaves as the `asyncio.subprocess.Process` the supervisor watches otherwise). If the template dies, the supervisor
still learns of its children's exits (pidfd; the exit code is then unknown, recorded as -1) and starts new
processes the usual way. It exits with the supervisor (parent-death signal), and when its socket closes it kills
whatever it forked that still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from faultlab.runtime.template import MAX_MESSAGE_BYTES, serve

UNKNOWN_EXIT = -1  # a child's exit code once its template is gone (only the parent can read it)
MAX_FD = 4096  # a forked template closes what the command had open, below this


class ForkServerGone(RuntimeError):
    """The template process is not there (not started, exited, or it could not fork): start the process by exec."""


class PipeWriter:
    """A spare's stdin, as much of asyncio's StreamWriter as the supervisor uses: write "go", drain, close."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def write(self, data: bytes) -> None:
        if self.fd is None:
            raise BrokenPipeError("closed")
        os.write(self.fd, data)  # a few bytes into an empty pipe: never blocks

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


class ForkedProcess:
    """A child of the template process, watched as `asyncio.subprocess.Process` is: pid, returncode, wait, kill."""

    def __init__(self, pid: int, stdin: PipeWriter | None) -> None:
        self.pid = pid
        self.stdin = stdin
        self.returncode: int | None = None
        self._exited = asyncio.Event()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # until the template reports the exit, the pid cannot be reused
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def exited(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._exited.set()


class ForkServer:
    """The supervisor's end of the template process: start it, fork services from it, stop it.

    `ForkServer.fork_here(log_dir)` forks the template from the calling process (the `faultlab up` command, before
    any thread or event loop exists: the template starts with every module the command already imported);
    otherwise `start()` runs it as a new Python process.
    """

    def __init__(self, log_dir: Path, log: Any = None) -> None:
        self.log_path = log_dir / "template.log"
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self._forked_pid: int | None = None  # a template forked by `fork_here` (waited for by its pid)
        self._sock: socket.socket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ForkedProcess]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._stdins: dict[int, PipeWriter | None] = {}
        self.gone = True
        self._stopping = False

    @classmethod
    def fork_here(cls, log_dir: Path) -> ForkServer | None:
        """Fork the template from this process now; None when this process has other threads (forking would copy
        their locks mid-use): `start()` then runs a new one."""
        if threading.active_count() > 1:
            return None
        server = cls(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                mine.close()
                os.setsid()
                log_fd = os.open(server.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                null_fd = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null_fd, 0)
                os.dup2(log_fd, 1)
                os.dup2(log_fd, 2)
                os.closerange(3, theirs.fileno())
                os.closerange(theirs.fileno() + 1, MAX_FD)
                code = serve(theirs.fileno(), parent)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        server._forked_pid = pid
        server._sock = mine
        return server

    @property
    def pid(self) -> int | None:
        if self._forked_pid is not None:
            return self._forked_pid
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def start(self) -> None:
        """Launch the template, or attach to the one `fork_here` forked; it imports in the background (requests
        wait in its socket until it is ready)."""
        if self._sock is None:
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with open(self.log_path, "ab", buffering=0) as log:  # noqa: ASYNC230 (a local file, opened once)
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "faultlab.runtime.template", str(theirs.fileno()), str(os.getpid()),
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=[theirs.fileno()],
                    start_new_session=True)
            theirs.close()
            self._sock = mine
        self._sock.setblocking(False)
        self.gone = False
        self._reader = asyncio.create_task(self._read(), name="forkserver")

    async def spawn(self, args: list[str], env: dict[str, str], log_path: Path, name: str, nice: int = 0,
                    stdin_pipe: bool = False) -> ForkedProcess:
        """Fork a child that runs `faultlab <args>` with this environment, its output appended to `log_path`;
        `stdin_pipe` gives it a pipe on stdin (a warm spare waits for "go" there). ForkServerGone: exec instead."""
        if self.gone or self._sock is None:
            raise ForkServerGone("no template process")
        request_id = next(self._ids)
        request = json.dumps({"id": request_id, "args": args, "env": env, "nice": nice, "name": name}).encode()
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        read_fd, write_fd = os.pipe() if stdin_pipe else (os.open(os.devnull, os.O_RDONLY), -1)
        future: asyncio.Future[ForkedProcess] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._stdins[request_id] = PipeWriter(write_fd) if stdin_pipe else None
        try:
            await self._send(request, [read_fd, log_fd])
        except BaseException:
            self._pending.pop(request_id, None)
            if stdin_pipe:
                os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
            os.close(log_fd)
        return await future

    async def _send(self, request: bytes, fds: list[int]) -> None:
        while True:
            if self.gone or self._sock is None:
                raise ForkServerGone("the template process exited")
            try:
                socket.send_fds(self._sock, [request], fds)
                return
            except BlockingIOError:  # its socket is full while it imports: wait for room
                await asyncio.sleep(0.01)
            except OSError as exc:
                raise ForkServerGone(f"the template process is unreachable: {exc}") from None

    async def _read(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(self._sock, MAX_MESSAGE_BYTES)
                if not data:
                    break
                self._handle(json.loads(data))
        except OSError:
            pass
        finally:
            self._lost()

    def _handle(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            child = self._children.pop(message["exited"], None)
            if child is not None:
                child.exited(int(message["code"]))
            return
        future = self._pending.pop(message["id"], None)
        stdin = self._stdins.pop(message["id"], None)
        if "pid" in message:
            child = ForkedProcess(message["pid"], stdin)
            self._children[child.pid] = child  # before anyone awaits it: its exit may be the very next message
            if future is not None and not future.done():
                future.set_result(child)
            return
        if stdin is not None:
            stdin.close()
        if future is not None and not future.done():
            future.set_exception(ForkServerGone(f"the template process could not fork: {message.get('error')}"))

    def _lost(self) -> None:
        """The template is gone: pending forks fail (the caller execs), its children are watched by pidfd."""
        if self.gone:
            return
        self.gone = True
        if self.log is not None and self._children:
            self.log.warning("template_process_exited", children=sorted(self._children))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ForkServerGone("the template process exited"))
        for stdin in self._stdins.values():
            if stdin is not None:
                stdin.close()
        self._pending.clear()
        self._stdins.clear()
        if self._stopping:  # the supervisor stopped every child first; the template kills any left
            self._children.clear()
            return
        loop = asyncio.get_running_loop()
        for pid, child in list(self._children.items()):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                child.exited(UNKNOWN_EXIT)
                continue

            def gone(fd: int = fd, child: ForkedProcess = child) -> None:
                loop.remove_reader(fd)
                os.close(fd)
                child.exited(UNKNOWN_EXIT)

            loop.add_reader(fd, gone)
        self._children.clear()

    async def stop(self) -> None:
        """Close the socket (the template kills what it forked that still runs, then exits) and wait for it."""
        self._stopping = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._lost()
        if self._forked_pid is not None:
            pid, self._forked_pid = self._forked_pid, None
            await _wait_child(pid, 5.0)
        elif self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


async def _wait_child(pid: int, timeout_s: float) -> None:
    """Reap a child this process forked itself (asyncio's watcher does not know it): SIGKILL after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: never blocks)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        await asyncio.sleep(0.01)
