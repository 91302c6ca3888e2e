"""`faultlab up | down | status | restart | reset | psql | token | failures | serve`: the running lab, started,
stopped, looked at and steered (`inject` and `clear` are registered from cli/faults.py among them)."""

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

from faultlab.cli.console import client as _client
from faultlab.cli.console import console as _console
from faultlab.cli.console import settings as _settings
from faultlab.cli.console import with_client as _with_client
from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.i18n import _

# ---- up / down / status -------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.no_restart:
        settings = settings.model_copy(update={"restart_crashed": False})
    if args.detach:
        return _up_detached(settings, args)
    from faultlab.runtime.supervisor import Supervisor, SupervisorError

    console = _console()

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            supervisor = Supervisor(settings, progress=console.log, netns=args.netns)
        except SupervisorError as exc:
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
                await _print_status(console, client)
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
    argv = [sys.executable, "-m", "faultlab", "up", "--timeout", str(args.timeout)]
    if args.no_restart:
        argv.append("--no-restart")
    if args.netns:
        argv.append("--netns")
    env = {**os.environ, "FAULTLAB_HOME": str(home), "COLUMNS": "120"}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    started = time.perf_counter()
    with console.status(_("starting the lab…")):
        while True:
            if child.poll() is not None:
                console.print(_("[bold red]the lab failed to start[/]; see {path}").format(path=log_path))
                console.print(log_path.read_text()[-3000:])
                return 1
            if state.exists():
                with contextlib.suppress(ValueError, OSError):
                    if json.loads(state.read_text()).get("ready_at"):
                        break
            if time.perf_counter() - started > args.timeout + 10:
                child.terminate()
                console.print(_("[bold red]the lab did not become ready in time[/]; see {path}").format(path=log_path))
                return 1
            time.sleep(0.05)
    console.print(_("[bold green]lab working[/] in {seconds} s; `faultlab down` stops it").format(
        seconds=i18n.number(time.perf_counter() - started, 2)))
    _with_client(args, lambda client: _print_status(console, client))
    return 0


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
            await _print_status(console, client)

    try:
        _with_client(args, show)
    except Unreachable as exc:
        console.print(_("[red]the lab is not running[/] ({error}); start it with `faultlab up`").format(error=exc))
        return 1
    return 0


async def _print_status(console: Any, client: Any) -> None:
    """The status table of the lab the client calls (the monitor's part left empty when it does not answer)."""
    from faultlab.cli.status_table import print_status
    from faultlab.core.client import Unreachable

    processes = await client.processes()
    try:
        monitor = await client.monitor_status()
    except Unreachable:
        monitor = {"instances": [], "services": []}
    print_status(console, processes, monitor, client.settings)


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
    from rich.table import Table

    from faultlab.cli.status_table import fmt_time as _fmt_time
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
    table = Table(title=_("fault episodes (TTD/TTR from event timestamps)"))
    for column in (_("replica"), _("fault"), _("active at"), _("detected at"), _("by"), _("TTD ms"), _("cleared at"),
                   _("recovered at"), _("TTR ms")):
        table.add_column(column)
    for e in failures:
        table.add_row(str(e["replica"]), str(e["fault_kind"]), _fmt_time(e["activated_at"]),
                      _fmt_time(e["detected_at"]), str(e["detected_by"] or "-"), str(e["ttd_ms"] or "-"),
                      _fmt_time(e["cleared_at"]), _fmt_time(e["recovered_at"]), str(e["ttr_ms"] or "-"))
    console.print(table)
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
    if args.spare:
        with contextlib.suppress(ImportError):
            import uvloop  # noqa: F401  (what `run` will use)
        if sys.stdin.readline().strip() != "go":
            return 0  # the supervisor let its spare go
    if args.service == "inventory":
        run(lambda: main(settings, args.replica))
    else:
        run(lambda: main(settings))
    return 0


# ---- parsers ---------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """The commands that start, stop, look at and steer the running lab."""
    up = sub.add_parser("up", help=_("start the whole lab (foreground; Ctrl-C stops everything)"))
    up.add_argument("--detach", action="store_true", help=_("return once every service is working"))
    up.add_argument("--no-restart", action="store_true",
                    help=_("do not restart crashed replicas (the guide's manual mode)"))
    up.add_argument("--timeout", type=float, default=60.0, help=_("seconds to wait for the lab to work (default 60)"))
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
    restart.add_argument("--instance", type=int, required=True)
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
    failures.add_argument("--json", action="store_true")
    failures.set_defaults(func=cmd_failures)

    serve = sub.add_parser("serve", help=_("run one service in this process (used by the supervisor)"))
    serve.add_argument("service", choices=["orders", "inventory", "monitor", "voter", "dashboard"])
    serve.add_argument("--replica", type=int)
    serve.add_argument("--spare", action="store_true",
                       help=_("warm spare: import everything, then wait for a line 'go' on stdin before serving "
                            "(end of input: exit)"))
    serve.set_defaults(func=cmd_serve)
