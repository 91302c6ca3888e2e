"""`faultlab replay RUN`: a recorded run played back on the dashboard's page, without a lab."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import _

DEFAULT_PORT = 5017


def register(sub: Any) -> None:
    """Add `replay` to the CLI's subparsers."""
    cmd = sub.add_parser(
        "replay", help=_("play a recorded run back on the dashboard's page, without a lab"),
        description=_("Serves the dashboard's page on a recorded run (a folder under runs/ with its report.json and "
                      "events.jsonl) and plays it back: the replicas' cards, the failures table with TTD and TTR, and "
                      "each episode's timeline once it is over. Play it at 1x to 20x, pause it, or step from one "
                      "recorded moment to the next; the live views and the operator's controls are off, and no lab is "
                      "needed. A run recorded before the timelines (or by a system that records less) is played with "
                      "what it has, the lanes it did not record marked so. Ctrl-C stops the server; nothing is left "
                      "running."))
    cmd.add_argument("run", metavar="RUN", help=_("the run's folder (runs/<time>, or runs/latest)"))
    cmd.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    cmd.add_argument("--port", type=int, default=DEFAULT_PORT,
                     help=_("port to listen on (default {port}; 0: any free port)").format(port=DEFAULT_PORT))
    cmd.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from faultlab.cli.console import wide_console
    from faultlab.core.web import ApiError
    from faultlab.lab.report import NotAReport

    console = wide_console()
    run_dir = Path(args.run).resolve()
    if not run_dir.is_dir():
        console.print("[bold red]" + _("no run folder {path}").format(path=args.run) + "[/]")
        return 2
    if not 0 <= args.port <= 65535:
        console.print("[bold red]" + _("--port must be 0 to 65535") + "[/]")
        return 2
    from faultlab.lab.dashboard.replay import ReplayServer

    try:
        server = ReplayServer(run_dir, i18n.active())
    except ApiError as exc:
        console.print("[bold red]" + exc.message + "[/]")
        return 2
    except NotAReport as exc:
        console.print("[bold red]" + exc.text(i18n.active()) + "[/]")
        return 2
    return asyncio.run(_serve(server, args, console))


async def _serve(server: Any, args: argparse.Namespace, console: Any) -> int:
    from aiohttp import web

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:
            console.print("[bold red]" + _("cannot listen on {host}:{port}: {error}").format(
                host=args.host, port=args.port, error=exc.strerror or exc) + "[/]")
            return 1
        host, port = runner.addresses[0][:2]
        console.print(_("replaying {run} at http://{host}:{port}/replay/{run} — Ctrl-C stops").format(
            run=server.run_dir.name, host=host, port=port), highlight=False)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
