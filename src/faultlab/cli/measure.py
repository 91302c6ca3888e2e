"""The lab's measuring commands: `faultlab load`, `faultlab experiment`, `faultlab report PATH`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.cli.console import decimal, typed
from faultlab.cli.console import wide_console as _console
from faultlab.core import i18n
from faultlab.core.i18n import N_, NP_, _
from faultlab.core.said import render, render_all, said_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from faultlab.core.config import Settings
    from faultlab.lab.report_checks import Check
    from faultlab.lab.report_model import Distribution, PhaseResult, Report

EXIT_OK, EXIT_MISSED, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(sub: Any) -> None:
    """Add `load`, `experiment` and `report` to the CLI's subparsers."""
    from faultlab.lab.phases import DEFAULT_PHASES, NETWORK_PHASES, guide_experiment
    from faultlab.lab.workload import TARGETS

    load = sub.add_parser("load", help=_("open-loop load at a fixed rate against the running lab"))
    load.add_argument("--target", choices=TARGETS, default="mix",
                      help=_("orders, voted (one product), voted-all, or mix (voted reads, 20%% orders, cancels of "
                             "accepted orders and restocks: the stock never runs out)"))
    load.add_argument("--rate", type=decimal, default=50.0, help=_("requests per second (default 50)"))
    load.add_argument("--duration", type=decimal, default=10.0, help=_("seconds (default 10)"))
    load.add_argument("--seed", type=int, default=1, help=_("seeds the load mix (default 1)"))
    load.add_argument("--timeout", type=decimal, default=5.0, help=_("per-request timeout in seconds"))
    load.add_argument("--json", action="store_true", help=_("print the full result (with per-second figures) as JSON"))
    load.set_defaults(func=cmd_load)

    guide = guide_experiment()
    t, load = guide.thresholds, guide.load
    exp = sub.add_parser(
        "experiment", help=_("run an experiment (the guide's phases, or a file's) under open-loop load: TTD/TTR, "
                             "JSON + HTML report"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_("Runs an experiment: the guide's (baseline, crash (1), latency 1200 ms (2), intermittent 0.3 "
                      "(3), incorrect PROD-001 (1), stale (2), hang (3) and two-down (1+2 stopped) under an open-loop "
                      "mix of voted reads and orders; experiments/guide.yaml), or the one a file describes (--file: "
                      "YAML or JSON, or a past run's report.json to repeat it). Starts from fresh data (as `faultlab "
                      "reset`), with the file's lab settings. Starts the lab itself when none is running (and stops "
                      "it at the end). Writes runs/<UTC time>/report.json, report.html, events.jsonl and logs/, and "
                      "runs/latest. Exit code 1 when a threshold, the data check or the steady state after the run "
                      "fails, 2 when the file is not valid or the lab is not healthy (nothing started or broken), 130 "
                      "on Ctrl-C (faults are cleared first). On a namespace lab (`faultlab up --netns`, or --netns "
                      "here) the guide's network phase ({phases}: replica 3 cut off the network) runs too. The "
                      "options below change the experiment (the guide's or the file's) for this run.").format(
            phases=", ".join(NETWORK_PHASES)))
    exp.add_argument("--file", "-f", help=_("the experiment to run: a YAML or JSON file (docs/experiment.md), or a run's "
                                            "report.json (the same experiment again, same seeds)"))
    exp.add_argument("--system", metavar="shop|guide|FILE",
                     help=_("the system under test: shop (faultlab's own, the default), guide (a running system built "
                            "to the study guide's contract, on its ports) or a system file (the guide settings that "
                            "differ); before the experiment file's system section. A guide system is checked first "
                            "(`faultlab system check`), never reset, and measured by faultlab's own observer"))
    exp.add_argument("--observer-port", type=int, default=0,
                     help=_("on a guide system, the port of the observer's API (its view beside the system's "
                            "monitor; default: a free one)"))
    exp.add_argument("--check", action="store_true",
                     help=_("only validate the experiment, against the running lab (else the lab the settings "
                            "describe): every problem with its line and phase; exit 2 when it is not valid; starts "
                            "nothing"))
    exp.add_argument("--phases", default=None,
                     help=_("comma-separated, in order (default: the file's phases, else {phases}, then {network} on "
                            "a namespace lab)").format(phases=",".join(DEFAULT_PHASES),
                                                       network=",".join(NETWORK_PHASES)))
    exp.add_argument("--netns", action="store_true",
                     help=_("when no lab is running, start one with each service in its own network namespace "
                            "(root; enables the network phases)"))
    exp.add_argument("--repeat", type=int, help=_("repetitions of the phase list (default {n})").format(n=guide.repeat))
    exp.add_argument("--rate", type=decimal, help=_("load in requests/s throughout (default {n})").format(
        n=typed(load.rate_rps)))
    exp.add_argument("--duration", type=decimal,
                     help=_("seconds each fault is held, and the baseline's length (default {n})").format(
                         n=typed(load.duration_s)))
    exp.add_argument("--settle", type=decimal, help=_("seconds of load before each fault and after recovery"))
    exp.add_argument("--seed", type=int, help=_("seeds the load mix and the faults' randomness"))
    exp.add_argument("--order-ratio", type=decimal, help=_("share of orders in the load (default {n})").format(
        n=typed(load.order_ratio)))
    exp.add_argument("--no-reset", action="store_true",
                     help=_("keep the running lab's data (by default the experiment starts from fresh data: initial "
                            "stock, empty log, as `faultlab reset`)"))
    exp.add_argument("--runs-dir", help=_("where run folders go (default FAULTLAB_RUNS_DIR, else ./runs)"))
    exp.add_argument("--max-ttd-ms", type=decimal, help=_("default {n}").format(n=typed(t.max_ttd_ms)))
    exp.add_argument("--max-ttr-ms", type=decimal, help=_("default {n}").format(n=typed(t.max_ttr_ms)))
    exp.add_argument("--max-restart-ttr-ms", type=decimal,
                     help=_("TTR limit for phases that restart a process (crash, two-down)"))
    exp.add_argument("--min-success-rate", type=decimal, help=_("percent"))
    exp.add_argument("--max-p95-ms", type=decimal, help=_("default {n}").format(n=f"{t.max_p95_ms:g}"))
    exp.add_argument("--startup-timeout", type=decimal, default=90.0, help=_("seconds to wait for a lab it starts"))
    exp.set_defaults(func=cmd_experiment)

    from faultlab.cli.compare import register as register_compare

    register_compare(sub)

    rep = sub.add_parser("report", help=_("regenerate report.html from a run's report.json and print its table, "
                                          "with the answers to the guide's questions"))
    rep.add_argument("path", help=_("a run folder (e.g. runs/latest) or its report.json"))
    rep.add_argument("--validate", action="store_true", help=_("also validate report.json against its JSON Schema"))
    rep.add_argument("--no-answers", action="store_true", help=_("print only the summary, not the guide's answers"))
    rep.set_defaults(func=cmd_report)


def _settings(args: argparse.Namespace) -> Any:
    from faultlab.core.config import Settings

    overrides: dict[str, Any] = {"home": Path(args.home)} if getattr(args, "home", None) else {}
    return Settings(**overrides)


# ---- load ---------------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    from rich.table import Table

    from faultlab.lab.load import run_load
    from faultlab.runtime.state import running_settings

    console = _console()
    settings = running_settings(_settings(args))
    console.print(_("open-loop {target} load: {rate} req/s for {duration} s → 127.0.0.1").format(
        target=args.target, rate=i18n.decimal(args.rate), duration=i18n.decimal(args.duration)))
    try:
        result = asyncio.run(run_load(settings, args.target, args.rate, args.duration, args.seed, args.timeout))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    data = result.describe()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = Table(title=_("load: {target} at {rate} req/s (latency from intended send time)").format(
        target=args.target, rate=i18n.decimal(args.rate)))
    for column in (_("requests"), _("ok"), _("rps"), _("avg ms"), _("p50 ms"), _("p95 ms"), _("p99 ms"), _("max ms"),
                   _("success %"), _("max send lag ms")):
        table.add_column(column, justify="right")
    table.add_row(_count(data["requests"]), _count(data["successful"]), _fmt(data["rps"], 1),
                  *(_fmt(data[k], 1) for k in ("avg_latency_ms", "p50_latency_ms", "p95_latency_ms",
                                               "p99_latency_ms", "max_latency_ms")),
                  _fmt(data["success_rate"], 2), _fmt(data["max_send_lag_ms"], 1))
    console.print(table)
    if data["errors"]:
        console.print(_("errors by kind:") + " " + ", ".join(f"{k} {_count(v)}" for k, v in sorted(data["errors"].items())))
    if data["ambiguous"]:
        console.print(_("writes of unknown outcome (may be stored):") + " "
                      + ", ".join(f"{k} {_count(v)}" for k, v in sorted(data["ambiguous"].items())))
    if len(data["by_kind"]) > 1:
        console.print(_("by kind:") + " " + "; ".join(
            _("{kind} {sent} sent, {ok} ok, {failed} failed, {unknown} unknown").format(
                kind=k, sent=_count(v["sent"]), ok=_count(v["ok"]), failed=_count(v["fail"]),
                unknown=_count(v["info"]))
            for k, v in data["by_kind"].items()))
    if not data["requests"] or data["successful"] == 0:
        console.print("[red]" + _("no request succeeded: is the lab running? (`faultlab up`)") + "[/]")
        return 1
    return 0


# ---- experiment ---------------------------------------------------------------------------------


def _settings_view(settings: Any) -> dict[str, Any]:
    """The lab settings worth keeping in a report (no token, no DSN with credentials)."""
    keep = ("replicas", "orders_port", "inventory_base_port", "monitor_port", "voter_port", "supervisor_port",
            "initial_stock", "health_interval_ms", "health_timeout_ms", "failure_threshold", "recovery_threshold",
            "recovery_interval_ms", "detector", "detector_params", "voter_timeout_ms", "voter_slow_ms",
            "max_staleness_ms", "restart_crashed")
    view = {k: getattr(settings, k) for k in keep}
    view["database"] = "external" if settings.database_url else "embedded PostgreSQL"
    view["broker"] = "external Kafka" if settings.kafka_bootstrap else "embedded Tansu"
    return view


def experiment_of(args: argparse.Namespace, facts: Any) -> tuple[Any, Any, list[Any]]:
    """The experiment this command runs — the file's (or the guide's) with the command line's options applied —
    checked whole and against the lab `facts` describe: (experiment or None, source, every problem located)."""
    from faultlab.lab.experiment_check import check_experiment
    from faultlab.lab.experiment_file import Source
    from faultlab.lab.phases import build_experiment, guide_experiment

    thresholds = {"max_ttd_ms": args.max_ttd_ms, "max_ttr_ms": args.max_ttr_ms,
                  "max_restart_ttr_ms": args.max_restart_ttr_ms, "min_success_rate": args.min_success_rate,
                  "max_p95_ms": args.max_p95_ms}

    defined: list[Any] = []  # the experiment as the file (or the guide's) defines it, before the options

    def build(base: Any) -> Any:
        defined.append(base or guide_experiment(facts.netns))
        return build_experiment(base, phases=args.phases, netns=facts.netns, repeat=args.repeat, rate=args.rate,
                                duration_s=args.duration, settle_s=args.settle, seed=args.seed,
                                order_ratio=args.order_ratio, reset=False if args.no_reset else None,
                                thresholds=thresholds)

    experiment, source, found = check_experiment(Path(args.file) if args.file else None, build, facts)
    if defined:
        source = (source or Source()).scoped(defined[0])
    return experiment, source, found


async def lab_facts(args: argparse.Namespace) -> tuple[Any, Any, bool]:
    """What the experiment is checked against: the lab running from the lab folder when there is one (it has
    written lab.json and its supervisor answers), else the lab the settings describe (with --netns: in namespaces).
    (facts, settings, whether the lab is running)."""
    from faultlab.core.client import ApiCallError, LabClient
    from faultlab.core.config import STATE_FILE
    from faultlab.lab.experiment_check import LabFacts
    from faultlab.runtime.state import running_settings

    settings = _settings(args)
    if (settings.home / STATE_FILE).exists():
        running = running_settings(settings)
        try:
            async with LabClient(running, timeout_s=2) as client:
                return await LabFacts.of_running_lab(client), running, True
        except ApiCallError:
            pass
    return LabFacts.of_settings(settings, netns=bool(args.netns)), settings, False


def say_lab(facts: Any, settings: Any, running: bool) -> str:
    """Which lab an experiment was checked against, and what it has."""
    what = _("replicas {replicas}; products {products}; {network}").format(
        replicas=", ".join(map(str, facts.replica_ids)) or "-", products=", ".join(facts.product_ids or ()) or "-",
        network=_("services in network namespaces") if facts.netns else _("no network namespaces"))
    return (_("checked against the running lab (lab folder {home}): {what}") if running else
            _("no lab running: checked against the lab the settings describe (lab folder {home}): {what}")).format(
        home=settings.home, what=what)


def print_problems(console: Any, problems: list[Any], where: str | None) -> None:
    from rich.markup import escape

    console.print("[bold red]" + (_("{file} is not a valid experiment:").format(file=where) if where
                                  else _("not a valid experiment:")) + "[/]")
    for problem in problems:
        console.print("  " + escape(problem.text(i18n.active())))


def cmd_experiment(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from faultlab.cli.system import say_system, system_of

    console = _console()
    contract = system_of(args)  # a guide system (--system, or the file's section), else None: the shop
    if contract is not None:
        from faultlab.core.config import Settings
        from faultlab.lab.phases import GUIDE_SYSTEM_PHASES
        from faultlab.lab.systems.contract import facts_of

        facts, settings, running = facts_of(contract), Settings(), True
        if not args.file and args.phases is None:
            args.phases = ",".join(GUIDE_SYSTEM_PHASES)
    else:
        facts, settings, running = asyncio.run(lab_facts(args))
    experiment, source, problems = experiment_of(args, facts)  # refused before any lab starts, nothing touched
    if args.check or problems:
        console.print(escape(say_lab(facts, settings, running) if contract is None else say_system(contract, facts)))
    if problems:
        print_problems(console, problems, args.file)
        return EXIT_ABORTED
    if args.check:
        phases, repeat = len(experiment.phases), experiment.repeat
        console.print(_("{file}: a valid experiment — {phases} × {repetitions}, about {minutes} min of load").format(
            file=args.file or _("the guide's experiment"),
            phases=i18n.ngettext("{n} phase", "{n} phases", phases).format(n=phases),
            repetitions=i18n.ngettext("{n} repetition", "{n} repetitions", repeat).format(n=repeat),
            minutes=i18n.number(_estimate_s(experiment) / 60, 1)))
        return EXIT_OK
    if contract is not None:
        return asyncio.run(_guide_experiment(args, experiment, source, contract, console))
    # The supervisor (if we start the lab here) needs the standard event loop: see cmd_up.
    return asyncio.run(_experiment(args, experiment, source, console))


async def _guide_experiment(args: argparse.Namespace, experiment: Any, source: Any, contract: Any,
                            console: Any) -> int:
    """The experiment on a system built to the guide's contract: checked first (exit 2 on one it cannot use,
    nothing touched), no lab started, measured by the observer."""
    from faultlab.cli.system import checked_system
    from faultlab.core.config import Settings

    console.print(_("system under test: {name} (a system built to the study guide's contract; no lab is "
                    "started)").format(name=contract.name))
    try:
        system = await checked_system(contract, console, observer_port=args.observer_port)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_INTERRUPTED
    if system is None:
        return EXIT_ABORTED
    dashboard = None
    if system.observer_api is not None and system.observer_api.url:
        console.print(_("the observer's view: {url}/status (its events: /events, its episodes: /failures)").format(
            url=system.observer_api.url))
        dashboard = await _system_dashboard(system, console)
    try:
        return await _run_and_report(args, experiment, source, Settings(), console, restore=False, system=system)
    finally:
        if dashboard is not None:
            await dashboard.stop()


async def _system_dashboard(system: Any, console: Any) -> Any:
    """The live dashboard on the system for the run's length (None, said, when it cannot start)."""
    from faultlab.core.config import Settings
    from faultlab.lab.dashboard.app import SystemDashboard

    c = system.contract
    urls = {"monitor": system.observer_api.url, "voter": c.voter.url, "orders": c.orders.url,
            **{f"inventory-{n}": url for n, url in enumerate(c.replicas.urls, start=1)}}
    dashboard = SystemDashboard(Settings().model_copy(update={"replicas": len(c.replicas.urls)}), urls)
    try:
        url = await dashboard.start()
    except OSError as exc:
        await dashboard.stop()
        console.print(_("no live dashboard: {why}").format(why=exc))
        return None
    console.print(_("the live dashboard: {url} (its replicas: the system's monitor's state beside faultlab's "
                    "observer's)").format(url=url))
    return dashboard


def _estimate_s(experiment: Any) -> float:
    """Roughly how long the phases take (settle twice, hold, a little for detection and recovery)."""
    per_phase = [2 * experiment.load.settle_s + experiment.hold_s(p) + (1.5 if p.has_fault else 0)
                 for p in experiment.phases]
    return sum(per_phase) * experiment.repeat


async def _lab_has_network(client: Any) -> bool:
    """Whether the running lab was started in network namespaces (its supervisor applies network faults)."""
    from faultlab.core.client import ApiCallError

    try:
        answer = await client.request("GET", client.url("supervisor", "/netfaults"))
    except ApiCallError:
        return False
    return bool(isinstance(answer, dict) and answer.get("netns"))


async def _experiment(args: argparse.Namespace, experiment: Any, source: Any, console: Any) -> int:
    from faultlab.core.client import LabClient, Unreachable
    from faultlab.runtime.state import running_settings
    from faultlab.runtime.supervisor import Supervisor, SupervisorError

    settings = running_settings(_settings(args))
    supervisor: Supervisor | None = None
    try:
        async with LabClient(settings, timeout_s=2) as client:
            await client.processes()
            netns = await _lab_has_network(client)
        console.print((_("using the running lab (lab folder {home}, services in network namespaces)") if netns
                       else _("using the running lab (lab folder {home})")).format(home=settings.home))
        if args.netns and not netns:
            console.print("[yellow]" + _("--netns ignored: the running lab is not a namespace lab "
                                         "(stop it first to start one with --netns)") + "[/]")
    except Unreachable:
        netns = bool(args.netns)
        console.print(_("no lab running: starting one for this experiment (stopped at the end), with each service "
                        "in its own network namespace") if netns
                      else _("no lab running: starting one for this experiment (stopped at the end)"))
        try:
            supervisor = Supervisor(_settings(args), progress=console.log, netns=netns)
        except (SupervisorError, OSError) as exc:
            console.print("[bold red]" + _("the lab cannot be set up here:") + f"[/] {exc}")
            return EXIT_ABORTED
        started = time.perf_counter()
        try:
            await supervisor.start(timeout_s=args.startup_timeout)
        except (SupervisorError, OSError) as exc:
            console.print("[bold red]" + _("the lab did not start:") + f"[/] {exc}")
            await supervisor.stop()
            return EXIT_ABORTED
        except (KeyboardInterrupt, asyncio.CancelledError):
            await supervisor.stop()
            return EXIT_INTERRUPTED
        console.print(_("[green]lab working[/] in {seconds} s").format(
            seconds=i18n.number(time.perf_counter() - started, 1)))
        settings = supervisor.settings
    console.print(_("live dashboard while it runs: {url}").format(url=settings.service_url("dashboard") + "/"))
    try:
        return await _run_and_report(args, experiment, source, settings, console, restore=supervisor is None)
    finally:
        if supervisor is not None:
            console.print(_("stopping the lab this experiment started…"))
            await supervisor.stop()


async def _run_and_report(args: argparse.Namespace, experiment: Any, source: Any, settings: Any, console: Any,
                          restore: bool = True, system: Any = None) -> int:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from faultlab.lab.experiment import ExperimentRunner
    from faultlab.lab.report import write_run

    total = len(experiment.phases) * experiment.repeat
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}", style="bold"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[load]}"),
                        console=console, transient=False)
    task = progress.add_task(_("starting"), total=total, load="")

    def on_phase(result: PhaseResult) -> None:
        progress.console.log(phase_line(result))
        progress.advance(task)

    # `faultlab demo` (cli/demo.py): a narrator follows the runner for the dashboard's presentation page
    narration = args.narrate(settings, experiment, progress.console) if getattr(args, "narrate", None) else None

    def phase_done(result: PhaseResult) -> None:
        on_phase(result)
        if narration is not None:
            narration.phase(result)

    runner = ExperimentRunner(settings, experiment, on_step=lambda msg: progress.update(task, description=msg),
                              on_phase=phase_done, restore_settings=restore, system=system)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if runner.interrupted or runner._interrupt:
            if main is not None:
                main.cancel()  # a second Ctrl-C: stop waiting (the lab's own stop still runs)
            return
        progress.console.log("[yellow]" + _("interrupted: clearing every fault, then writing a partial report") + "[/]")
        runner.interrupt()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    async def ticker() -> None:
        while True:
            total_stats = runner.recorder.total
            recent = [runner.recorder.seconds.get(int(time.time()) - k) for k in range(2, 7)]
            recent_ok = sum(s.ok for s in recent if s)
            recent_n = sum(s.requests for s in recent if s)
            rate = (_("{percent} % ok (last 5 s)").format(percent=_fmt(100 * recent_ok / recent_n, 1))
                    if recent_n else "")
            progress.update(task, load=i18n.ngettext("{n} request", "{n} requests", total_stats.requests).format(
                n=_count(total_stats.requests)) + f" · {rate}")
            await asyncio.sleep(0.5)

    tick = asyncio.create_task(ticker())
    if narration is not None:
        narration.start(runner)
    try:
        with progress:
            data = await runner.run()
    finally:
        tick.cancel()
        if narration is not None:
            await narration.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    runs_dir = Path(args.runs_dir or getattr(settings, "runs_dir", None) or "runs")
    view = ({**_settings_view(settings), **experiment.lab_settings.model_dump(exclude_none=True)} if system is None
            else {"system": system.name})
    report = _build(data, view, source, runs_dir, console, settings)
    if report is None:
        return EXIT_ABORTED
    run_dir = write_run(report, data["events"], runs_dir, settings.home / "logs" if system is None else None,
                        lang=i18n.active())
    if narration is not None:
        narration.finish(run_dir, bool(data["interrupted"]))
    print_summary(console, report)
    console.print(_("report: {json}\n        {html}\n        (also {latest})").format(
        json=run_dir / "report.json", html=run_dir / "report.html", latest=runs_dir / "latest"))
    if data["aborted"]:
        console.print("[bold red]" + _("aborted:") + "[/] " + escape(render(data["aborted"])))
        return EXIT_ABORTED
    if data["interrupted"]:
        return EXIT_INTERRUPTED
    if data.get("stopped_by"):
        console.print("[bold red]" + _("stopped by an abort condition:") + "[/] " + escape(render(data["stopped_by"])))
    return EXIT_OK if report.verdict.valid else EXIT_MISSED


def _build(data: dict[str, Any], view: dict[str, Any], source: Any, runs_dir: Path, console: Any,
           settings: Settings) -> Report | None:
    """The run's report; None when what the runner collected does not fit the report's model (a bug): then every
    problem is said and the collected data kept in the runs folder, so that the run is not lost."""
    import pydantic

    from faultlab.core.messages import problems
    from faultlab.lab.report import build_report

    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(data["started_at"]))
    try:
        return build_report(data, view, run_id, source.model_dump(exclude_none=True) if source is not None else None,
                            settings)
    except pydantic.ValidationError as exc:
        runs_dir.mkdir(parents=True, exist_ok=True)
        kept = runs_dir / f"{run_id}-unreported.json"
        kept.write_text(json.dumps(data, default=_jsonable) + "\n")
        console.print("[bold red]" + _("the run's report could not be made; what the run collected is in {path}:")
                      .format(path=kept) + "[/] " + "; ".join(p.text(i18n.active()) for p in problems(exc, data)))
        return None


def _jsonable(value: Any) -> Any:
    """A model as its JSON data (the runner's phase runs), anything else JSON cannot say as its text."""
    from pydantic import BaseModel

    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def phase_line(result: PhaseResult) -> str:
    """The progress line of a phase run that ended (Rich markup): its figures and what it missed, in the reader's
    language."""
    from rich.markup import escape

    lr = result.load_test_result
    mark = "[green]" + _("ok") + "[/]" if result.passed else "[red]" + _("missed") + "[/]: " + escape(
        "; ".join(render_all(result.missed)))
    return _("{phase} #{repetition}: TTD {ttd} ms, TTR {ttr} ms, {rps} rps, p95 {p95} ms, success {success} %").format(
        phase=result.phase, repetition=result.repetition, ttd=_fmt(result.ttd_ms), ttr=_fmt(result.ttr_ms),
        rps=_fmt(lr.rps, 1), p95=_fmt(lr.p95_latency_ms), success=_fmt(lr.success_rate, 2)) + f" — {mark}"


def _fmt(value: Any, digits: int = 0) -> str:
    return i18n.number(value, digits)


def print_summary(console: Any, report: Report) -> None:
    """The end-of-run table: per phase medians and spread, the guide's summary, the verdict."""
    from rich.markup import escape
    from rich.table import Table

    from faultlab.lab.report_checks import AmbiguousWritesCheck, ReadHistoryCheck

    table = Table(title=escape(_("experiment summary: median [min–max] over repetitions")))
    for column in (N_("phase"), N_("reps"), N_("TTD ms"), N_("TTR ms"), N_("rps"), N_("p95 ms"), N_("p99 ms"),
                   N_("success %"), N_("verdict")):
        table.add_column(_(column), justify="left" if column in ("phase", "verdict") else "right")

    def dist(d: Distribution | None, digits: int = 0, applies: bool = True, miss: str = N_("missing ×{n}")) -> str:
        if d is None:
            return "-"
        miss = _(miss)
        misses = " [red]" + miss.format(n=d.misses) + "[/]" if d.misses else ""
        if d.median is None:
            if not applies:
                return _("n/a")
            return "-" if not d.missing else "[red]" + miss.format(n=d.missing) + "[/]"
        if d.n > 1:
            return escape(f"{_fmt(d.median, digits)} [{_fmt(d.min, digits)}–{_fmt(d.max, digits)}]") + misses
        return _fmt(d.median, digits) + misses

    for name, st in report.phases.items():
        verdict = "[green]" + _("pass") + "[/]" if st.passed else "[red]" + escape(
            "; ".join(render_all(st.missed))) + "[/]"
        fault = st.has_fault is not False
        lacks = {u.missing for u in st.unmeasured or []}
        if st.skipped:  # the system lacks what the phase needs: not run, not judged
            verdict = "[yellow]" + escape(_("skipped: {why}").format(why="; ".join(_(k.why) for k in st.skipped))) \
                + "[/]"
            fault = False
        elif st.unmeasured:
            verdict += " [yellow]" + escape(_("not measured: {why}").format(
                why="; ".join(_(u.why) for u in st.unmeasured))) + "[/]"
        ran = not st.skipped
        table.add_row(name, str(st.repetitions),
                      dist(st.ttd_ms, applies=fault and "monitor" not in lacks, miss=N_("not detected ×{n}")),
                      dist(st.ttr_ms, applies=fault and not lacks, miss=N_("not recovered ×{n}")),
                      dist(st.rps, 1, applies=ran), dist(st.p95_latency_ms, 1, applies=ran),
                      dist(st.p99_latency_ms, 1, applies=ran), dist(st.success_rate, 2, applies=ran),
                      verdict)
    console.print(table)
    s = report.summary
    misses = ""
    if s.not_detected or s.not_recovered:
        misses = " · [red]" + _("not detected {detected}, not recovered {recovered}").format(
            detected=s.not_detected or 0, recovered=s.not_recovered or 0) + "[/]"
    console.print(_("summary: {passed}/{total} phase runs passed · avg TTD {ttd} ms · avg TTR {ttr} ms · max p95 "
                    "{p95} ms · min success {success} % · detector {detector}").format(
        passed=_count(s.successful_tests), total=_count(s.total_tests), ttd=_fmt(s.avg_ttd_ms), ttr=_fmt(s.avg_ttr_ms),
        p95=_fmt(s.max_p95_ms, 1), success=_fmt(s.min_success_rate, 2),
        detector=report.experiment_info.detector.name) + misses)
    dc = report.data_check
    valid = _verdict_word(dc.valid, "data check")
    if dc.checked_through == "api":
        console.print(_("data check: {valid} ({orders}, {reads}; checked through the system's API)").format(
            valid=valid, orders=_counted(NP_("{n} accepted order", "{n} accepted orders"), dc.accepted_orders),
            reads=_counted(NP_("{n} voted read", "{n} voted reads"), dc.reads_checked)))
    else:
        console.print(_("data check: {valid} ({orders}, {events})").format(
            valid=valid, orders=_counted(NP_("{n} accepted order", "{n} accepted orders"), dc.accepted_orders),
            events=_counted(NP_("{n} event in the log", "{n} events in the log"), dc.events_in_log)))
    print_findings(console, dc.checks)
    if dc.not_checkable:
        console.print("  " + _("not checkable with this system's answers, so not judged: {checks}").format(
            checks=", ".join(dc.not_checkable)))
    rh = dc.checks.get("read_history")
    if isinstance(rh, ReadHistoryCheck):  # a run's from before the check counted has only its verdict
        console.print(_("read history: {valid} — {checked}, {violations} ({wrong}, {unknown}, {older})").format(
            valid=_verdict_word(rh.valid, "read history"),
            checked=_counted(NP_("{n} voted read checked", "{n} voted reads checked"), rh.answered_200),
            violations=_counted(NP_("{n} violation", "{n} violations"), rh.violations),
            wrong=_counted(NP_("{n} wrong value", "{n} wrong values"), rh.wrong_values),
            unknown=_counted(NP_("{n} unknown position", "{n} unknown positions"), rh.unknown_positions),
            older=_counted(NP_("{n} older than already acknowledged", "{n} older than already acknowledged"),
                           rh.older_than_acknowledged)))
        staleness = rh.staleness
        if staleness is not None:
            console.print(_("voted reads' staleness: p50 {p50} ms, p99 {p99} ms, max {max} ms over {n} reads; {over} "
                            "over the bound of {bound} ms").format(
                p50=_fmt(staleness.p50_ms, 1), p99=_fmt(staleness.p99_ms, 1), max=_fmt(staleness.max_ms, 1),
                n=_count(staleness.measured), over=_count(staleness.over_bound),
                bound=_count(staleness.max_staleness_ms)))
    aw = dc.checks.get("ambiguous_writes")
    if isinstance(aw, AmbiguousWritesCheck):
        console.print(_("writes of unknown outcome: {n} ({once} stored once, {not_stored} not stored, {more} more "
                        "than once)").format(n=_count(aw.ambiguous), once=_count(aw.stored_once),
                                             not_stored=_count(aw.not_stored), more=_count(aw.stored_more_than_once)))
    v = report.verdict
    if v.valid:
        single = [run for run, _missed in report.runs_off_threshold()]
        console.print(_("[bold green]verdict: PASS[/] (each phase judged on its medians)") if not single else
                      _("[bold green]verdict: PASS[/] (each phase judged on its medians; off a threshold in a single "
                        "run: {runs})").format(runs=", ".join(single)))
    else:
        console.print(_("[bold red]verdict: FAIL[/]") + " — " + escape("; ".join(render_all(v.missed))))


def print_findings(console: Any, checks: Mapping[str, Check], shown: int = 3) -> None:
    """Each data check that says what it found (the checks through a system's API), in the reader's language: its
    verdict, its finding and the first few of its other findings."""
    from rich.markup import escape

    from faultlab.lab.api_findings import render_in

    say = render_in(i18n.active())
    marks = {True: "[green]" + _("pass") + "[/]", False: "[red]" + _("FAIL") + "[/]"}
    for name, check in checks.items():
        if check.finding is None:
            continue
        if check.checkable is False:
            mark = _("not checkable")
        else:
            mark = marks[check.valid] if isinstance(check.valid, bool) else _("unknown")
        console.print(f"  {escape(name)}: {mark} — " + escape(say(check.finding)))
        for found in (check.findings or [])[:shown]:
            console.print("    · " + escape(say(found)))


def _count(value: int | None) -> str:
    """A count the report has (in the reader's language: "1.365" in Spanish), or "-" where it has none."""
    return i18n.number(value, 0)


def _verdict_word(value: Any, of: str = "data check") -> str:
    """A verdict in words (valid, not valid, unknown), as said of `of` (Spanish agrees with what is judged)."""
    if of == "read history":
        words = (i18n.pgettext("read history", "valid"), i18n.pgettext("read history", "not valid"),
                 i18n.pgettext("read history", "unknown"))
    else:
        words = (i18n.pgettext("data check", "valid"), i18n.pgettext("data check", "not valid"),
                 i18n.pgettext("data check", "unknown"))
    return (words[0] if value else words[1]) if isinstance(value, bool) else words[2]


def _counted(message: i18n.Plural, n: int | None) -> str:
    """A count with its noun, singular or plural in the reader's language ("1 violación", "2 violaciones")."""
    return i18n.ngettext(message.singular, message.plural, n or 0).format(n=_count(n))


def print_guide_answers(console: Any, report: Report) -> None:
    """The guide's questions and scenarios this run answers, with its numbers (the report.html section, as text)."""
    from rich.markup import escape

    from faultlab.lab.guide_answers import guide_answers

    console.print("\n[bold]" + escape(_("Answers to the study guide from this run")) + "[/]")
    for answer in guide_answers(report, i18n.active()):
        console.print(f"\n[bold cyan]{escape(answer.title)}[/] {escape(answer.question)}")
        for line in answer.measured:
            console.print("  " + escape(line))
        if answer.expected:
            console.print("  [dim]" + escape(_("the guide expects:") + " " + answer.expected) + "[/]")
        for line in answer.why:
            console.print("  [yellow]" + escape(line) + "[/]")


# ---- report -------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from faultlab.lab.report import NotAReport, read_document, regenerate_html, report_file, report_of, validate

    console = _console()
    try:
        document = read_document(Path(args.path))
    except (FileNotFoundError, ValueError) as exc:
        console.print("[red]" + escape(render(said_of(exc))) + "[/]")
        return 2
    if args.validate:
        import jsonschema
        import pydantic

        from faultlab.core.messages import problems

        try:
            validate(document)
        except pydantic.ValidationError as exc:
            console.print("[red]" + _("report.json does not match its schema:") + "[/] "
                          + "; ".join(p.text(i18n.active()) for p in problems(exc, document)))
            return 1
        except jsonschema.ValidationError as exc:
            where = _("{error} at {path}").format(error=exc.message, path="/".join(map(str, exc.absolute_path)))
            console.print("[red]" + _("report.json does not match its schema:") + "[/] " + where)
            return 1
        console.print(_("report.json matches report.schema.json"))
    try:
        report = report_of(document, report_file(Path(args.path)))
    except NotAReport as exc:
        from rich.markup import escape

        console.print("[red]" + escape(exc.text(i18n.active())) + "[/]")
        return 2
    out = regenerate_html(Path(args.path), i18n.active(), report)
    print_summary(console, report)
    if not args.no_answers:
        print_guide_answers(console, report)
    console.print(_("wrote {path}").format(path=os.path.relpath(out)))
    return 0
