"""`faultlab up | down | status | restart | reset | psql | token | failures | serve`: the running lab, started,
stopped, looked at and steered (`up` itself is cli/up.py; `inject` and `clear` are registered from cli/faults.py
among them)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from faultlab.cli.console import console as _console
from faultlab.cli.console import decimal
from faultlab.cli.console import settings as _settings
from faultlab.cli.console import with_client as _with_client
from faultlab.cli.status_table import show_status
from faultlab.cli.up import cmd_up
from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.i18n import _

# ---- down / status -------------------------------------------------------------------------------


def cmd_down(args: argparse.Namespace) -> int:
    from faultlab.core.config import STATE_FILE

    console = _console()
    home = _settings(args).home.resolve()
    state_path = home / STATE_FILE
    if not state_path.exists():
        console.print(_("no lab is running from this lab folder"))
        return 0
    state = json.loads(state_path.read_text())
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    with console.status(_("stopping the lab…")):
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    leftovers = [p for p in [pid, *state.get("processes", {}).values()] if p and _alive(p)]
    for leftover in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leftover, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        state_path.unlink()
    console.print(_("lab stopped") + ((" " + i18n.ngettext("(killed {n} stuck process)", "(killed {n} stuck processes)",
                                                            len(leftovers)).format(n=len(leftovers)))
                                    if leftovers else ""))
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/stat") as handle:
        if handle.read().split(")")[-1].split()[0] == "Z":
            return False
    return True


def cmd_status(args: argparse.Namespace) -> int:
    from faultlab.core.client import Unreachable

    console = _console()

    async def show(client: Any) -> None:
        if args.json:
            print(json.dumps({"processes": await client.processes(), "monitor": await client.monitor_status()},
                             indent=2))
        else:
            await show_status(console, client)

    try:
        _with_client(args, show)
    except Unreachable as exc:
        console.print(_("[red]the lab is not running[/] ({error}); start it with `faultlab up`").format(error=exc))
        return 1
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from faultlab.core.client import ApiCallError

    console = _console()
    try:
        answer = _with_client(args, lambda client: client.restart(f"inventory-{args.instance}"))
    except ApiCallError as exc:
        console.print("[red]" + _("not restarted:") + f"[/] {exc}")
        return 1
    console.print(_("replica {instance} restarted (pid {pid})").format(instance=args.instance, pid=answer["pid"]))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from faultlab.core.client import ApiCallError

    console = _console()
    if not args.yes and sys.stdin.isatty():
        reply = console.input(_("reset the running lab's data (every order gone, every replica's stock back to the "
                                "initial stock)? [y/N] "))
        if reply.strip().lower() not in ("y", "yes", "s", "si", "sí"):
            console.print(_("nothing changed"))
            return 1
    try:
        with console.status(_("resetting the lab's data: services stopped, broker log emptied, schemas dropped, "
                              "services started again…")):
            answer = _with_client(args, lambda client: client.reset(timeout_s=120))
    except ApiCallError as exc:
        console.print("[red]" + _("not reset:") + f"[/] {exc}")
        return 1
    stock = ", ".join(f"{p} {q}" for p, q in answer["initial_stock"].items())
    console.print("[green]" + _("lab reset") + "[/] " + _("in {seconds} s: no orders, stock {stock}").format(
        seconds=f"{answer['seconds']:.1f}", stock=stock))
    if answer.get("epoch"):
        console.print(_("new epoch {epoch}: a record sealed before the reset is set aside wherever it turns up").format(
            epoch=answer["epoch"]))
    return 0


def cmd_psql(args: argparse.Namespace) -> int:
    """psql on the lab's database (the embedded server's own client, or the external one's URL)."""
    import shutil

    from faultlab.runtime.postgres import _bin_dir
    from faultlab.runtime.state import running_settings

    settings = running_settings(_settings(args))
    psql = _bin_dir() / "psql"
    if not psql.exists():
        found = shutil.which("psql")
        if found is None:
            print(_("no psql client found"), file=sys.stderr)
            return 1
        psql = Path(found)
    env = dict(os.environ)
    dsn = settings.dsn
    if settings.db_password and not settings.database_url:  # the password through the environment, not argv
        env["PGPASSWORD"] = settings.db_password
        dsn = settings.model_copy(update={"db_password": None}).dsn
    argv = [str(psql), dsn, *(["-c", args.command] if args.command else [])]
    return subprocess.call(argv, env=env)


def cmd_failures(args: argparse.Namespace) -> int:
    from faultlab.cli.status_table import failures_table
    from faultlab.core.client import Unreachable

    console = _console()
    try:
        failures = _with_client(args, lambda client: client.failures())["failures"]
    except Unreachable as exc:
        console.print(_("[red]the lab is not running[/] ({error})").format(error=exc))
        return 1
    if args.json:
        print(json.dumps(failures, indent=2))
        return 0
    console.print(failures_table(failures))
    return 0


def netrc_lines(token: str, host: str) -> list[str]:
    """~/.netrc entries that make `requests` and `curl --netrc` send the token (as a Basic password) to the lab."""
    hosts = dict.fromkeys(["localhost", "127.0.0.1", host])
    return [f"machine {h} login faultlab password {token}" for h in hosts]


def cmd_token(args: argparse.Namespace) -> int:
    from faultlab.runtime.state import running_settings

    settings = running_settings(_settings(args))
    if not settings.admin_token:
        print(_("no operator token: start the lab first (`faultlab up` writes {path})").format(
            path=f"{settings.home}/admin-token"), file=sys.stderr)
        return 1
    print("\n".join(netrc_lines(settings.admin_token, settings.host)) if args.netrc else settings.admin_token)
    return 0


# ---- internal: one service process --------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib

    from faultlab.core.web import run

    settings = Settings()
    if args.service == "inventory" and (args.replica is None or args.replica not in settings.replica_ids):
        print(_("serve inventory needs --replica in {ids}").format(ids=settings.replica_ids), file=sys.stderr)
        return 2
    module = {"inventory": "faultlab.shop.inventory.app", "orders": "faultlab.shop.orders.app",
              "voter": "faultlab.shop.voter.app", "monitor": "faultlab.shop.monitor.app",
              "dashboard": "faultlab.lab.dashboard.app"}[args.service]
    main = importlib.import_module(module).main
    from faultlab.core.log import get_logger

    if args.spare and args.service == "inventory":  # a replica's spare opens its connections while it waits
        get_logger(args.service, args.replica).info("imported")
        run(lambda: main(settings, args.replica, released=go_on_stdin))
        return 0
    if args.spare:
        with contextlib.suppress(ImportError):
            import uvloop  # noqa: F401  (what `run` will use)
        if sys.stdin.readline().strip() != "go":
            return 0  # the supervisor let its spare go
    get_logger(args.service, args.replica).info("imported")  # a start's breakdown: benchmarks/start_profile.py
    if args.service == "inventory":
        run(lambda: main(settings, args.replica))
    else:
        run(lambda: main(settings))
    return 0


async def go_on_stdin() -> bool:
    """A warm spare's wait on its event loop (no timer: it sleeps until its stdin moves): True once the supervisor
    writes the line "go", False at the end of input (the spare is not needed)."""
    loop = asyncio.get_running_loop()
    said: asyncio.Future[bool] = loop.create_future()
    fd = sys.stdin.fileno()
    line = bytearray()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            chunk = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        line.extend(chunk)
        if (not chunk or b"\n" in line) and not said.done():
            said.set_result(bytes(line).split(b"\n", 1)[0].strip() == b"go")

    loop.add_reader(fd, readable)
    try:
        return await said
    finally:
        loop.remove_reader(fd)


# ---- parsers ---------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """The commands that start, stop, look at and steer the running lab."""
    up = sub.add_parser("up", help=_("start the whole lab (foreground; Ctrl-C stops everything)"))
    up.add_argument("--detach", action="store_true", help=_("return once every service is working"))
    up.add_argument("--no-restart", action="store_true",
                    help=_("do not restart crashed replicas (the guide's manual mode)"))
    up.add_argument("--timeout", type=decimal, default=60.0, help=_("seconds to wait for the lab to work (default 60)"))
    up.add_argument("--netns", action="store_true",
                    help=_("each service in its own network namespace on a private bridge (root; docs/deploy.md)"))
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help=_("stop a lab started with `up --detach`"))
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help=_("table of every process and instance state"))
    status.add_argument("--json", action="store_true", help=_("print raw JSON"))
    status.set_defaults(func=cmd_status)

    from faultlab.cli.faults import register as register_fault_commands  # inject, clear

    register_fault_commands(sub)

    restart = sub.add_parser("restart", help=_("restart a replica by hand (the guide's manual recovery)"))
    restart.add_argument("--instance", type=int, required=True, help=_("replica number (1-3)"))
    restart.set_defaults(func=cmd_restart)

    reset = sub.add_parser("reset", help=_("fresh data in the running lab: orders, events and replica state gone, "
                                           "initial stock (the experiment does this before it starts)"))
    reset.add_argument("--yes", "-y", action="store_true", help=_("do not ask for confirmation"))
    reset.set_defaults(func=cmd_reset)

    psql = sub.add_parser("psql",
                          help=_("psql on the lab's database (instance_status, failure_audit, request_metrics…)"))
    psql.add_argument("-c", dest="command", help=_("run one SQL command and exit"))
    psql.set_defaults(func=cmd_psql)

    token = sub.add_parser("token", help=_("print the operator token (--netrc: as ~/.netrc lines for the guide's "
                                         "scripts and curl --netrc)"))
    token.add_argument("--netrc", action="store_true",
                       help=_("print `machine … login faultlab password <token>` lines: "
                            "`faultlab token --netrc >> ~/.netrc` (docs/guide-mapping.md)"))
    token.set_defaults(func=cmd_token)

    failures = sub.add_parser("failures", help=_("fault episodes with TTD and TTR"))
    failures.add_argument("--json", action="store_true", help=_("print raw JSON"))
    failures.set_defaults(func=cmd_failures)

    serve = sub.add_parser("serve", help=_("run one service in this process (used by the supervisor)"))
    serve.add_argument("service", choices=["orders", "inventory", "monitor", "voter", "dashboard"],
                       help=_("the service to run"))
    serve.add_argument("--replica", type=int, help=_("inventory: the replica number"))
    serve.add_argument("--spare", action="store_true",
                       help=_("warm spare: import everything, then wait for a line 'go' on stdin before serving "
                            "(end of input: exit)"))
    serve.set_defaults(func=cmd_serve)
