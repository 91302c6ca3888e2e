"""`faultlab system proxy`: the fault proxy in front of the replicas of a system faultlab did not start, in the
foreground, for the session (registered in the `system` group by `cli/system.py`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

from faultlab.cli.console import console as _console
from faultlab.cli.console import settings as _settings
from faultlab.core.i18n import _, decimal, ngettext

GUIDE_UPSTREAMS = {1: "http://127.0.0.1:5001", 2: "http://127.0.0.1:5002", 3: "http://127.0.0.1:5003"}
DEFAULT_PORT_BASE = 6000  # replica N on 6000 + N (the guide's 5001-5003 become 6001-6003)
DEFAULT_CONTROL_PORT = 6010
CONTAINER_HOST = "host.docker.internal"  # how a container reaches its host (Linux: extra_hosts host-gateway)


def register_proxy(commands: Any) -> None:
    from faultlab.faults.proxy import PROXY_KINDS

    kinds = "\n".join("  " + kind.ljust(14) + _(spec.summary) for kind, spec in PROXY_KINDS.items())
    proxy = commands.add_parser(
        "proxy", help=_("run a fault proxy in front of each replica (foreground; Ctrl-C stops it)"),
        description=_("A fault proxy in front of each replica of a system that has no fault endpoint of its own: "
                      "point the system's voter and monitor at the proxies, then inject faults through the control "
                      "API (or an experiment with inject: proxy)."),
        epilog=_("fault kinds:") + "\n" + kinds, formatter_class=argparse.RawDescriptionHelpFormatter)
    proxy.add_argument("--upstream", action="append", default=[], metavar="N=URL",
                       help=_("replica N's own base URL (repeat per replica; default: the guide's "
                              "1=http://127.0.0.1:5001 to 3=http://127.0.0.1:5003)"))
    proxy.add_argument("--listen", default="127.0.0.1", metavar=_("ADDRESS"),
                       help=_("address the proxies listen on (default 127.0.0.1; 0.0.0.0 so containers can reach "
                              "them)"))
    proxy.add_argument("--ports", metavar=_("PORTS"),
                       help=_("the proxies' ports: 6001-6003, a first port (then one per replica), or "
                              "1=6001,2=6002 (default: 6000 + the replica's number)"))
    proxy.add_argument("--control-host", default="127.0.0.1", metavar=_("ADDRESS"),
                       help=_("address of the control API (default 127.0.0.1)"))
    proxy.add_argument("--control-port", type=int, default=DEFAULT_CONTROL_PORT, metavar=_("PORT"),
                       help=_("port of the control API (default {port})").format(port=DEFAULT_CONTROL_PORT))
    proxy.add_argument("--seed", type=int, help=_("seeds every random fault (the same seed repeats the same run)"))
    proxy.add_argument("--pid", action="append", default=[], metavar=_("N=PID|FILE"),
                       help=_("replica N's process id, or a pid file read at each crash (the crash kind kills it)"))
    proxy.add_argument("--advertise", metavar=_("HOST"),
                       help=_("the host name the system's containers reach this machine by (default "
                              "{host} when listening on 0.0.0.0)").format(host=CONTAINER_HOST))
    proxy.set_defaults(func=cmd_proxy)


def pairs(values: list[str], what: str) -> dict[int, str]:
    """`N=VALUE` arguments as {N: VALUE}; ValueError naming the bad one."""
    found: dict[int, str] = {}
    for value in values:
        number, sep, text = value.partition("=")
        if not sep or not number.strip().isdigit() or not text.strip() or int(number) < 1:
            raise ValueError(_("{what} '{value}': write N=VALUE, N a replica number").format(what=what, value=value))
        if int(number) in found:
            raise ValueError(_("{what}: replica {replica} given twice").format(what=what, replica=int(number)))
        found[int(number)] = text.strip()
    return found


def parse_ports(text: str | None, replicas: list[int]) -> dict[int, int]:
    """The proxies' ports from `--ports` (a range, a first port, or N=PORT pairs), one per replica."""
    if text is None:
        ports = {r: DEFAULT_PORT_BASE + r for r in replicas}
    elif "=" in text:
        ports = {r: _port(p) for r, p in pairs(text.split(","), "--ports").items()}
        if set(ports) != set(replicas):
            raise ValueError(_("--ports names replicas {given}, the upstreams are {replicas}").format(
                given=sorted(ports), replicas=replicas))
    elif match := re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip()):
        first = _port(match[1])
        last = _port(match[2]) if match[2] else first + len(replicas) - 1
        if last - first + 1 != len(replicas):
            raise ValueError(ngettext("--ports {text}: {replicas} replica needs {replicas} port, the range gives "
                                      "{count}", "--ports {text}: {replicas} replicas need {replicas} ports, the "
                                      "range gives {count}", len(replicas)).format(
                text=text, count=max(0, last - first + 1), replicas=len(replicas)))
        ports = dict(zip(replicas, range(first, last + 1), strict=True))
    else:
        raise ValueError(_("--ports '{text}': write 6001-6003, 6001, or 1=6001,2=6002").format(text=text))
    if any(not 1 <= p <= 65535 for p in ports.values()) or len(set(ports.values())) != len(ports):
        raise ValueError(_("--ports: each replica needs its own port, 1 to 65535"))
    return ports


def _port(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(_("'{text}' is not a port number").format(text=text))
    return int(text)


def parse_pids(values: list[str]) -> dict[int, int | Path]:
    return {r: int(v) if v.isdigit() else Path(v) for r, v in pairs(values, "--pid").items()}


def cmd_proxy(args: argparse.Namespace) -> int:
    console = _console()
    try:
        upstreams = pairs(args.upstream, "--upstream") or dict(GUIDE_UPSTREAMS)
        ports = parse_ports(args.ports, sorted(upstreams))
        pids = parse_pids(args.pid)
        if unknown := sorted(set(pids) - set(upstreams)):
            raise ValueError(_("--pid names replicas without an upstream: {replicas}").format(replicas=unknown))
        if not 0 <= args.control_port <= 65535:
            raise ValueError(_("--control-port must be 0 to 65535"))
    except ValueError as exc:
        _error(console, exc)
        return 2
    from faultlab.core.log import get_logger
    from faultlab.core.web import run
    from faultlab.runtime.supervisor import load_or_create_token

    settings = _settings(args)
    settings = settings.model_copy(update={"admin_token": settings.admin_token or load_or_create_token(settings.home)})
    home = Path(settings.home).resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    result: list[int] = []
    with open(home / "logs" / "proxy.log", "a") as log_file:  # the proxy's own lines; the terminal gets the events
        log = get_logger("proxy", stream=log_file)

        async def main() -> None:
            result.append(await _serve_proxy(args, console, settings, home, log, upstreams, ports, pids))

        run(main)
    return result[0] if result else 1


async def _serve_proxy(args: argparse.Namespace, console: Any, settings: Any, home: Path, log: Any,
                       upstreams: dict[int, str], ports: dict[int, int], pids: dict[int, int | Path]) -> int:
    from faultlab.lab.systems.proxy import FaultProxy, ProxyError
    from faultlab.lab.systems.proxy.client import STATE_FILE
    from faultlab.lab.systems.proxy.control import ControlApi

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        proxy = FaultProxy(upstreams, host=args.listen, ports=ports, seed=args.seed, pids=pids, log=log,
                           on_event=lambda name, data: _print_event(console, name, data))
        control = ControlApi(proxy, settings, log)
    except ProxyError as exc:
        _error(console, exc)
        return 2
    try:
        await proxy.start()
        await control.start(args.control_host, args.control_port)
    except ProxyError as exc:
        _error(console, exc)
        console.print(_("another program holds it? choose other ports with --ports or --control-port"))
        await control.stop()
        await proxy.stop()
        return 1
    state = home / STATE_FILE
    try:
        _print_banner(console, proxy, control.url, settings.admin_token, args)
        _write_state(state, proxy, control.url)
        for replica, problem in (await proxy.probe_upstreams()).items():
            if problem is not None:
                _line(console, _("warning: replica {replica}'s upstream {url} does not answer ({problem}); the "
                                 "proxy keeps running and forwards once it does").format(
                    replica=replica, url=proxy.upstream(replica), problem=problem))
        await stop.wait()
        console.print(_("stopping the proxy…"))
        return 0
    finally:
        with contextlib.suppress(FileNotFoundError):
            state.unlink()
        await control.stop()
        await proxy.stop()
        console.print(_("proxy stopped: every fault cleared, nothing left listening"))


def _print_banner(console: Any, proxy: Any, control_url: str, token: str, args: argparse.Namespace) -> None:
    anywhere = args.listen in ("0.0.0.0", "::", "")
    outside = args.advertise or (CONTAINER_HOST if anywhere else None)
    console.print(_("[bold green]fault proxy working[/] (Ctrl-C stops it)"))
    for replica in proxy.replicas:
        _line(console, "  " + _("replica {replica}: {listen}:{port} → {upstream}").format(
            replica=replica, listen=args.listen, port=proxy.port(replica), upstream=proxy.upstream(replica)))
    console.print(_("point the system's voter and monitor at the proxies instead of the replicas:"))
    local = [proxy.address(r) for r in proxy.replicas]
    _line(console, "  " + _("from this machine: {urls}").format(urls=" ".join(local)))
    if outside:
        remote = [proxy.address(r, outside) for r in proxy.replicas]
        _line(console, "  " + _("from a container:  {urls}").format(urls=" ".join(remote)))
        console.print("  " + _("as environment variables (name them as the services read them):"))
        for replica, url in zip(proxy.replicas, remote, strict=True):
            _line(console, f"    INVENTORY_{replica}_URL={url}")
        _line(console, f"    INVENTORY_URLS={','.join(remote)}")
        console.print("  " + _("docker compose, in the voter's and the monitor's services:"))
        _line(console, f'    environment: ["INVENTORY_URLS={",".join(remote)}"]')
        if outside == CONTAINER_HOST:
            _line(console, f'    extra_hosts: ["{CONTAINER_HOST}:host-gateway"]')
    else:
        console.print("  " + _("containers cannot reach {listen}: start with --listen 0.0.0.0 for a system in "
                        "containers").format(listen=args.listen))
    _line(console, _("control API: {url} (operator token: {token}; `faultlab token` prints it again)").format(
        url=control_url, token=token))
    _line(console, "  " + _("e.g. curl -X POST -H 'Authorization: Bearer {token}' -d '{{\"kind\": \"latency\", "
                     "\"latency_ms\": 1200}}' {url}/replicas/1/faults").format(url=control_url, token=token))


def _error(console: Any, exc: Exception) -> None:
    from rich.markup import escape

    console.print("[bold red]" + _("error:") + f"[/] {escape(str(exc))}")


def _line(console: Any, text: str) -> None:
    """A line to copy (an address, a variable, a command): never wrapped, nothing in it taken for markup."""
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def _print_event(console: Any, name: str, data: dict[str, Any]) -> None:
    params = " ".join(f"{k}={_value(v)}" for k, v in data.get("params", {}).items() if v not in (None, []))
    if name == "fault_injected":
        console.log(_("replica {replica}: {kind} injected {params}").format(
            replica=data["replica"], kind=data["kind"], params=params), highlight=False)
    else:
        hits = data.get("hits", 0)
        console.log(ngettext("replica {replica}: {kind} cleared ({hits} request hit)",
                             "replica {replica}: {kind} cleared ({hits} requests hit)", hits).format(
            replica=data["replica"], kind=data["kind"], hits=decimal(hits)), highlight=False)


def _value(value: Any) -> str:
    """A fault's parameter as the reader writes it: numbers with the language's decimal mark, lists joined."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return decimal(value)
    if isinstance(value, list):
        return ",".join(_value(v) for v in value)
    return str(value)


def _remove_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _write_state(path: Path, proxy: Any, control_url: str) -> None:
    """The running proxy, for other commands (an experiment with inject: proxy): no secrets."""
    state = {"pid": os.getpid(), "control_url": control_url,
             "replicas": {str(r): {"address": proxy.address(r), "port": proxy.port(r), "upstream": proxy.upstream(r)}
                          for r in proxy.replicas}}
    path.write_text(json.dumps(state, indent=2))
