"""The example's processes: started in the background with a pid file and a log, stopped by that pid file."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class Failure(Exception):
    """A command could not do its job; the message says why and what to do."""


def pid_file(run, name):
    return run / "pids" / f"{name}.pid"


def alive(record):
    """True while the recorded process runs (not a zombie, not another program that got its pid)."""
    pid = record["pid"]
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    if [part.decode(errors="replace") for part in cmdline] == record["argv"]:
        return True
    if Path(record["argv"][0]).name.startswith("python"):  # a service: any Python program has that executable
        return False
    try:  # PostgreSQL rewrites its title, and Kafka's command line read as it starts may come back short: the
        # executable still tells
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(record["argv"][0])
    except OSError:
        return False


def recorded(run, name):
    try:
        return json.loads(pid_file(run, name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def spawn(run, name, argv, env=None, as_user=None):
    """Start one background process in its own session, its output in logs/NAME.log, its pid in pids/NAME.pid."""
    (run / "logs").mkdir(parents=True, exist_ok=True)
    (run / "pids").mkdir(parents=True, exist_ok=True)
    ids = {"user": as_user[0], "group": as_user[1], "extra_groups": []} if as_user else {}
    with open(run / "logs" / f"{name}.log", "ab") as log:
        log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=run, start_new_session=True, **ids)
    pid_file(run, name).write_text(json.dumps({"pid": proc.pid, "argv": argv}))
    return proc.pid


def signal_to(pid, signum, group=False):
    """Send a signal to a process (or its whole session, started by spawn) that may have just exited."""
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def stop(run, name, timeout_s=10.0):
    """Stop one recorded process (SIGTERM, SIGINT for PostgreSQL; SIGKILL after timeout_s); True if one ran."""
    record = recorded(run, name)
    if record is None:
        return False
    was_alive = alive(record)
    if was_alive:
        signal_to(record["pid"], signal.SIGINT if name == "postgres" else signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while alive(record) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(record):
            signal_to(record["pid"], signal.SIGKILL, group=True)  # with its children (PostgreSQL's backends)
            while alive(record):
                time.sleep(0.05)
    pid_file(run, name).unlink(missing_ok=True)
    return was_alive


def log_tail(run, name, lines=15):
    try:
        text = (run / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(f"    {line}" for line in text[-lines:])


def wait_for(what, ready, run, names, timeout_s):
    """Poll `ready()` until it is true; fail early (with the log) when one of `names` has exited."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        for name in names:
            record = recorded(run, name)
            if record is not None and not alive(record):
                raise Failure(f"{name} exited while starting; the end of {run / 'logs' / (name + '.log')}:\n"
                              + log_tail(run, name))
        if time.monotonic() > deadline:
            raise Failure(f"{what} not ready after {timeout_s:.0f} s; see the logs in {run / 'logs'}")
        time.sleep(0.1)


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200 and json.loads(response.read()).get("status") == "UP"
    except (OSError, ValueError):
        return False


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def port_free(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
