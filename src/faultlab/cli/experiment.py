"""`faultlab experiment`: the experiment checked against the lab (or a system built to the guide's contract), a lab
started when none is running, the run under open-loop load with its progress, and its report written and summed up."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.cli.console import count, number, print_problems
from faultlab.cli.console import settings as _settings
from faultlab.cli.console import wide_console as _console
from faultlab.cli.report import phase_line, print_summary
from faultlab.core import i18n
from faultlab.core.i18n import _
from faultlab.core.said import render

if TYPE_CHECKING:
    from faultlab.core.config import Settings
    from faultlab.lab.report_model import PhaseResult, Report

EXIT_OK, EXIT_MISSED, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    from faultlab.lab.experiment_reader import Source
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
        print_problems(console, problems, _("{file} is not a valid experiment:").format(file=args.file) if args.file
                       else _("not a valid experiment:"))
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
            rate = (_("{percent} % ok (last 5 s)").format(percent=number(100 * recent_ok / recent_n, 1))
                    if recent_n else "")
            progress.update(task, load=i18n.ngettext("{n} request", "{n} requests", total_stats.requests).format(
                n=count(total_stats.requests)) + f" · {rate}")
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
