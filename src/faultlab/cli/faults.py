"""`faultlab inject` and `faultlab clear`, built from the fault registry: every kind, its parameters and its site.

The kinds, their arguments (`--latency_ms`, also spelled `--latency-ms`), the help text and where each fault is sent
(the replica, the supervisor's network faults, the supervisor's processes) come from `faults.registry`; a new kind
appears here without a change to this file.
"""

from __future__ import annotations

import argparse
from typing import Any

from faultlab.cli.console import decimal, typed
from faultlab.core import i18n
from faultlab.core.i18n import N_, _
from faultlab.core.messages import Refused
from faultlab.faults.registry import NETWORK, PROCESS, REPLICA, KindSpec, kinds, of_site, parse_params

TYPES = {"integer": int, "number": decimal, "string": str}


def fault_help() -> str:
    """The kinds and their parameters, one line each (the epilog of `faultlab inject --help`)."""
    lines = [_("fault kinds and their parameters:")]
    titles = {REPLICA.name: None, NETWORK.name: N_("network faults (a lab started with `up --netns`; applied by the "
                                                   "supervisor, not the replica):"),
              PROCESS.name: N_("process faults (applied by the supervisor):")}
    for site in (REPLICA, NETWORK, PROCESS):
        title = titles[site.name]
        if title:
            lines.append(_(title))
        for kind, spec in of_site(site).items():
            params = " ".join(_argument(f) for f in spec.fields() if f["name"] != "seed") or _("(no parameters)")
            summary = _(spec.summary)
            lines.append(f"  {kind:<13} {summary:<58} {params}")
    lines.append(_("every replica kind (and netem) takes --seed for repeatable randomness; `faultlab clear` undoes a "
                   "fault as its kind says."))
    return "\n".join(lines)


def _argument(field: dict[str, Any]) -> str:
    value = field["default"]
    shown = typed(value) if isinstance(value, float) else value
    text = f"--{field['name']}" + (f" {shown}" if value is not None and field["type"] != "array" else "")
    return text if field["required"] else f"[{text}]"


def register(sub: Any) -> None:
    """Add `inject` and `clear` to the CLI's subparsers."""
    inject = sub.add_parser("inject", help=_("inject a fault into one replica"), epilog=fault_help(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    inject.add_argument("kind", choices=list(kinds()), help=_("the fault kind (listed below)"))
    inject.add_argument("--instance", type=int, help=_("replica number (1-3); required except for partition --groups"))
    arguments: dict[str, tuple[Any, list[str]]] = {}  # name -> (parser, "kind: what it means" for each kind)
    for kind, spec in kinds().items():
        for field in spec.fields():
            parser = spec.cli.get(field["name"]) or TYPES.get(field["type"], str)
            meaning = _(field["description"]) if field["description"] else ""
            arguments.setdefault(field["name"], (parser, []))[1].append(f"{kind}: {meaning}")
    for name, (parser, meanings) in arguments.items():
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        inject.add_argument(*flags, dest=name, type=parser,
                            help=meanings[0].split(": ", 1)[1] if len(meanings) == 1 or name == "seed"
                            else "; ".join(meanings))
    inject.set_defaults(func=cmd_inject)

    clear = sub.add_parser("clear", help=_("clear the faults of one replica (or all)"))
    which = clear.add_mutually_exclusive_group(required=True)
    which.add_argument("--instance", type=int, help=_("replica number (1-3)"))
    which.add_argument("--all", action="store_true", help=_("every replica"))
    clear.add_argument("--kind", choices=list(kinds()), help=_("clear only this kind"))
    clear.set_defaults(func=cmd_clear)


def _given(args: argparse.Namespace, spec: KindSpec) -> tuple[dict[str, Any], list[str]]:
    """The parameters given on the command line that this kind takes, and those it does not."""
    own = {f["name"] for f in spec.fields()}
    every = {f["name"] for s in kinds().values() for f in s.fields()}
    params = {name: getattr(args, name) for name in own if getattr(args, name, None) is not None}
    foreign = sorted(f"--{name}" for name in every - own if getattr(args, name, None) is not None)
    return params, foreign


def cmd_inject(args: argparse.Namespace) -> int:
    from faultlab.cli.console import client as _client
    from faultlab.cli.console import console as _console
    from faultlab.cli.console import with_client as _with_client
    from faultlab.cli.status_table import fmt_time as _fmt_time
    from faultlab.core.client import ApiCallError, Unreachable

    console = _console()
    spec = kinds()[args.kind]
    params, foreign = _given(args, spec)
    problems = [_("{options}: not parameters of a {kind} fault").format(options=", ".join(foreign), kind=args.kind)] \
        if foreign else []
    try:
        parse_params({"kind": spec.kind, **params}, spec.site)
    except Refused as exc:
        problems += [p.text(i18n.active()) for p in exc.problems]
    names_groups = "groups" in params
    if args.instance is None and not names_groups:
        problems.append(_("--instance is required"))
    if problems:
        console.print("[red]" + _("not injected:") + "[/] " + "; ".join(problems))
        return 2
    client = _client(args)
    if args.instance is not None and args.instance not in client.settings.replica_ids:
        console.print("[red]" + _("not injected:") + "[/] " + _("--instance must be one of {ids}").format(
            ids=client.settings.replica_ids))
        return 2
    call = spec.site.inject(client.settings, spec.kind, args.instance, params)
    try:
        answer = _with_client(args, lambda client: client.call(call))
    except ApiCallError as exc:
        console.print("[red]" + _("not injected:") + f"[/] {exc}")
        return 1 if isinstance(exc, Unreachable) else 2
    at = spec.site.read(answer, spec.site.activated_field)
    shown = spec.site.read(answer, ("fault", "params")) or params
    if args.instance is None:
        console.print(_("[bold]{kind}[/] in effect at {time} {params}").format(
            kind=spec.kind, time=_fmt_time(at), params=shown))
    else:
        console.print(_("[bold]{kind}[/] injected on replica {instance} at {time} {params}").format(
            kind=spec.kind, instance=args.instance, time=_fmt_time(at), params=shown))
    return 0


async def _clear_network(client: Any, console: Any, instance: int | None, kind: str | None) -> int:
    """Clear partition / netem through the supervisor; a lab without namespaces has none (409 is not an error)."""
    from faultlab.core.client import ApiCallError, Unreachable

    try:
        answer = await client.clear_netfaults(instance, kind)
    except Unreachable:
        return 0
    except ApiCallError as exc:
        if exc.status == 409:
            return 0
        console.print("[red]" + _("network faults not cleared:") + f"[/] {exc}")
        return 2
    for fault in answer["cleared"]:
        console.print(_("cleared network fault {kind} {params}").format(kind=fault["kind"], params=fault["params"]))
    return 0


async def _start_stopped(client: Any, console: Any, instances: list[int]) -> int:
    """Start the replicas a `stop` fault keeps stopped (the process kinds' clear)."""
    from faultlab.core.client import ApiCallError, Unreachable

    try:
        processes = (await client.processes())["processes"]
    except Unreachable:
        return 0
    status = 0
    for proc in processes:
        # Not running although it would be restarted after a crash: stopped on purpose (the supervisor's stop).
        if proc.get("replica") in instances and not proc["running"] and proc.get("auto_restart"):
            call = PROCESS.clear(client.settings, "stop", proc["replica"])
            try:
                await client.call(call)
                console.print(_("replica {instance}: started again").format(instance=proc["replica"]))
            except ApiCallError as exc:
                console.print("[red]" + _("replica {instance}:").format(instance=proc["replica"]) + f"[/] {exc}")
                status = 2
    return status


def cmd_clear(args: argparse.Namespace) -> int:
    from faultlab.cli.console import console as _console
    from faultlab.cli.console import with_client as _with_client

    console = _console()
    return _with_client(args, lambda client: _clear(args, client, console))


async def _clear(args: argparse.Namespace, client: Any, console: Any) -> int:
    from faultlab.core.client import ApiCallError, Unreachable

    instances = client.settings.replica_ids if args.all else [args.instance]
    spec = kinds()[args.kind] if args.kind else None
    status = 0
    if spec is None or spec.site is NETWORK:  # first: a partitioned replica cannot hear the clear below
        status = await _clear_network(client, console, None if args.all else args.instance, args.kind)
        if spec is not None:
            return status
    if spec is None or spec.site is PROCESS:
        status = await _start_stopped(client, console, instances) or status
        if spec is not None:
            return status
    for instance in instances:
        try:
            answer = await client.clear(instance, args.kind)
            cleared = [f["kind"] for f in answer["cleared"]]
            console.print(_("replica {instance}: cleared {kinds}").format(
                instance=instance, kinds=", ".join(cleared) or _("nothing (no active fault)")))
        except Unreachable as exc:
            console.print(_("[yellow]replica {instance} did not answer[/] ({error}); a crashed replica has no fault "
                            "left to clear").format(instance=instance, error=exc))
            status = status or 1
        except (ApiCallError, ValueError) as exc:
            console.print("[red]" + _("replica {instance}:").format(instance=instance) + f"[/] {exc}")
            status = 2
    return status


__all__ = ["cmd_clear", "cmd_inject", "fault_help", "register"]
