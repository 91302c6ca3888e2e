"""`faultlab system …`: a system under test that faultlab did not start. `system check [FILE]` probes a system built
to the study guide's contract before anything is broken — the same check, printed the same way, runs before every
`faultlab experiment` on such a system; `system proxy` (`cli/proxy.py`) runs the fault proxy in front of its
replicas."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from faultlab.cli.console import print_problems
from faultlab.cli.console import wide_console as _console
from faultlab.core import i18n
from faultlab.core.i18n import _

EXIT_OK, EXIT_UNUSABLE = 0, 2


def register(sub: Any) -> None:
    """Add the `system` group (`check`, `proxy`) to the CLI's subparsers."""
    from faultlab.cli.proxy import register_proxy

    system = sub.add_parser("system", help=_("a system built to the study guide's contract (yours), which faultlab did "
                                             "not start: check it, put a fault proxy in front of it"))
    commands = system.add_subparsers(dest="system_command", required=True, metavar=_("COMMAND"))
    check = commands.add_parser(
        "check", help=_("probe every endpoint of a guide system and say what is there and what is missing"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_("Probes a running system built to the study guide's contract — orders :5006, replicas "
                      ":5001-5003, monitor :5004, voter :5005 unless FILE says otherwise — before anything is "
                      "broken: what each endpoint answered, the monitor's instance ids and words, whether the fault "
                      "endpoint is there (asked with an empty body: nothing is injected), the commands; for each "
                      "thing missing, the setting to change. Sends one test order of 1 unit and cancels it "
                      "(--read-only: none). Exit code 0 when an experiment can run on it, 2 when it cannot."))
    check.add_argument("file", nargs="?", help=_("a system file (YAML or JSON: the settings that differ from the "
                                                 "guide's), or an experiment file with a system section"))
    check.add_argument("--read-only", action="store_true", help=_("send no test order"))
    check.add_argument("--json", action="store_true", help=_("print the check as JSON"))
    check.set_defaults(func=cmd_check)
    register_proxy(commands)


def contract_of(spec: str | None, section: Any = None) -> Any:
    """The system an experiment runs on: `--system` (shop, guide, or a system file) before the experiment file's
    `system` section; None for faultlab's shop. `Refused` (every problem with its place) for a bad file."""
    from faultlab.core.messages.system import SystemContract
    from faultlab.lab.systems.contract import guide_contract, load_system

    contract: SystemContract | None
    if spec is None:
        contract = section
    elif spec in ("shop", "guide"):
        contract = guide_contract() if spec == "guide" else None
    else:
        contract = load_system(Path(spec))
    return None if contract is None or contract.kind == "shop" else contract


def system_of(args: argparse.Namespace) -> Any:
    """The guide system `faultlab experiment` runs on: `--system` (a bad system file is refused here, exit 2),
    else the experiment file's `system` section (a bad one is left to the file's check, which locates it by line);
    None for faultlab's shop."""
    from faultlab.core.messages import Refused

    spec = getattr(args, "system", None)  # `faultlab demo` runs on the shop and has no --system
    if spec is not None:
        try:
            return contract_of(spec)
        except Refused as exc:
            print_problems(_console(), exc.problems, _not_valid(spec))
            raise SystemExit(EXIT_UNUSABLE) from None
    if not args.file:
        return None
    from faultlab.core.messages import parse
    from faultlab.core.messages.system import SystemContract
    from faultlab.lab.experiment_reader import read_data

    try:
        data, _source = read_data(Path(args.file))
        section = data.get("system") if isinstance(data, dict) else None
        return contract_of(None, None if section is None else parse(SystemContract, section))
    except Refused:
        return None


def say_system(contract: Any, facts: Any) -> str:
    """Which system an experiment was checked against, and what it has."""
    return _("checked against the system under test {name}: replicas {replicas}; products {products}").format(
        name=contract.name, replicas=", ".join(map(str, facts.replica_ids)),
        products=", ".join(facts.product_ids or ()) or "-")


def _not_valid(where: str | None) -> str:
    """The headline over a refused system's problems: the system file's, or the system's (`print_problems`)."""
    return _("{file} is not a valid system file:").format(file=where) if where else _("not a valid system:")


def print_check(console: Any, system: Any) -> None:
    """What the check found, one line each: ✓ found, ✗ missing (the setting to change), ✗✗ what an experiment
    cannot run without."""
    from rich.markup import escape

    console.print("[bold]" + escape(_("{name}: what the check found").format(name=system.name)) + "[/]")
    for finding in system.checked.findings:
        mark = "[green]✓[/]" if finding.ok else ("[bold red]✗✗[/]" if finding.fatal else "[yellow]✗[/]")
        console.print(f" {mark} " + escape(finding.text(i18n.active())))
    abilities = system.abilities
    can = [name for name, have in (("monitor", abilities.monitor), ("restart", abilities.restart),
                                   ("stop", abilities.stop), ("order_status", abilities.order_status),
                                   ("positions", abilities.positions), ("restock", abilities.restock)) if have]
    console.print(_("abilities: {can}; fault kinds: {kinds}").format(
        can=", ".join(can) or "-", kinds=", ".join(sorted(k for k in abilities.fault_kinds
                                                       if k != "stop" or abilities.stop)) or "-"))
    if system.checked.ok:
        console.print("[green]" + _("an experiment can run on this system") + "[/]")
    else:
        console.print("[bold red]" + _("an experiment cannot run on this system: change the settings marked ✗✗")
                      + "[/]")


async def checked_system(contract: Any, console: Any, observer_port: int | None = None, write: bool = True,
                         as_json: bool = False) -> Any:
    """A started guide system whose check passed (printed), or None (printed why; nothing touched, all closed)."""
    from faultlab.core.messages import Refused
    from faultlab.lab.systems.guide import GuideSystem

    try:
        system = GuideSystem(contract, observer_port=observer_port, write_check=write)
    except Refused as exc:
        print_problems(console, exc.problems, _not_valid(None))
        return None
    await system.start()
    try:
        result = await system.check()
    except BaseException:
        await system.stop()
        raise
    if as_json:
        print(json.dumps({**result, "abilities": system.abilities.describe()}, indent=2))
    else:
        print_check(console, system)
    if not result["ok"]:
        await system.stop()
        return None
    return system


def cmd_check(args: argparse.Namespace) -> int:
    from faultlab.core.messages import Refused

    console = _console()
    try:
        contract = contract_of(args.file or "guide")
    except Refused as exc:
        print_problems(console, exc.problems, _not_valid(args.file))
        return EXIT_UNUSABLE
    if contract is None:
        console.print(_("the shop is faultlab's own system: `faultlab status` checks it"))
        return EXIT_OK

    async def check() -> int:
        system = await checked_system(contract, console, write=not args.read_only, as_json=args.json)
        if system is None:
            return EXIT_UNUSABLE
        await system.stop()
        return EXIT_OK

    try:
        return asyncio.run(check())
    except KeyboardInterrupt:
        return 130
