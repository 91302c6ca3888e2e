"""The lab's measuring commands: `faultlab load`, `faultlab experiment`, `faultlab report PATH`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_MISSED, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(sub: Any) -> None:
    """Add `load`, `experiment` and `report` to the CLI's subparsers."""
    from faultlab.lab.load import TARGETS
    from faultlab.lab.phases import DEFAULT_PHASES, NETWORK_PHASES, Thresholds

    load = sub.add_parser("load", help="open-loop load at a fixed rate against the running lab")
    load.add_argument("--target", choices=TARGETS, default="mix",
                      help="orders, voted (one product), voted-all, or mix (voted reads + 20%% orders)")
    load.add_argument("--rate", type=float, default=50.0, help="requests per second (default 50)")
    load.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--timeout", type=float, default=5.0, help="per-request timeout in seconds")
    load.add_argument("--json", action="store_true", help="print the full result (with per-second figures) as JSON")
    load.set_defaults(func=cmd_load)

    t = Thresholds()
    exp = sub.add_parser(
        "experiment", help="the guide's phases under open-loop load, TTD/TTR, JSON + HTML report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs baseline, crash (1), latency 1200 ms (2), intermittent 0.3 (3), incorrect PROD-001 (1) "
                    "and two-down (1+2 stopped) under an open-loop mix of voted reads and orders. Starts the lab "
                    "itself when none is running (and stops it at the end). Writes runs/<UTC time>/report.json, "
                    "report.html, events.jsonl and logs/, and runs/latest. Exit code 1 when a threshold or the "
                    "data check fails, 2 when the lab is not healthy, 130 on Ctrl-C (faults are cleared first). "
                    "On a namespace lab (`faultlab up --netns`, or --netns here) the network phase "
                    f"({', '.join(NETWORK_PHASES)}: replica 3 cut off the network) runs too.")
    exp.add_argument("--phases", default=None,
                     help=f"comma-separated, in order (default {','.join(DEFAULT_PHASES)}, then "
                          f"{','.join(NETWORK_PHASES)} on a namespace lab)")
    exp.add_argument("--netns", action="store_true",
                     help="when no lab is running, start one with each service in its own network namespace "
                          "(root; enables the network phases)")
    exp.add_argument("--repeat", type=int, default=3, help="repetitions of the phase list (default 3)")
    exp.add_argument("--rate", type=float, default=50.0, help="load in requests/s throughout (default 50)")
    exp.add_argument("--duration", type=float, default=5.0,
                     help="seconds each fault is held, and the baseline's length (default 5)")
    exp.add_argument("--settle", type=float, default=2.0, help="seconds of load before each fault and after recovery")
    exp.add_argument("--seed", type=int, default=1, help="seeds the load mix and the faults' randomness")
    exp.add_argument("--order-ratio", type=float, default=0.2, help="share of orders in the load (default 0.2)")
    exp.add_argument("--runs-dir", help="where run folders go (default FAULTLAB_RUNS_DIR, else ./runs)")
    exp.add_argument("--max-ttd-ms", type=float, default=t.max_ttd_ms)
    exp.add_argument("--max-ttr-ms", type=float, default=t.max_ttr_ms)
    exp.add_argument("--max-restart-ttr-ms", type=float, default=t.max_restart_ttr_ms,
                     help="TTR limit for phases that restart a process (crash, two-down)")
    exp.add_argument("--min-success-rate", type=float, default=t.min_success_rate, help="percent")
    exp.add_argument("--max-p95-ms", type=float, default=t.max_p95_ms)
    exp.add_argument("--startup-timeout", type=float, default=90.0, help="seconds to wait for a lab it starts")
    exp.set_defaults(func=cmd_experiment)

    rep = sub.add_parser("report", help="regenerate report.html from a run's report.json and print its table")
    rep.add_argument("path", help="a run folder (e.g. runs/latest) or its report.json")
    rep.add_argument("--validate", action="store_true", help="also validate report.json against its JSON Schema")
    rep.set_defaults(func=cmd_report)


def _settings(args: argparse.Namespace) -> Any:
    from faultlab.config import Settings

    overrides: dict[str, Any] = {"home": Path(args.home)} if getattr(args, "home", None) else {}
    return Settings(**overrides)


def _console() -> Any:
    """A Rich console; wide enough for the summary table when the output is a file or a pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=150)


# ---- load ---------------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    from rich.table import Table

    from faultlab.client import running_settings
    from faultlab.lab.load import run_load

    console = _console()
    settings = running_settings(_settings(args))
    console.print(f"open-loop {args.target} load: {args.rate:g} req/s for {args.duration:g} s → 127.0.0.1")
    try:
        result = asyncio.run(run_load(settings, args.target, args.rate, args.duration, args.seed, args.timeout))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    data = result.describe()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = Table(title=f"load: {args.target} at {args.rate:g} req/s (latency from intended send time)")
    for column in ("requests", "ok", "rps", "avg ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "success %",
                   "max send lag ms"):
        table.add_column(column, justify="right")
    table.add_row(str(data["requests"]), str(data["successful"]), str(data["rps"]), str(data["avg_latency_ms"]),
                  str(data["p50_latency_ms"]), str(data["p95_latency_ms"]), str(data["p99_latency_ms"]),
                  str(data["max_latency_ms"]), str(data["success_rate"]), str(data["max_send_lag_ms"]))
    console.print(table)
    if data["errors"]:
        console.print("errors by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(data["errors"].items())))
    if not data["requests"] or data["successful"] == 0:
        console.print("[red]no request succeeded: is the lab running? (`faultlab up`)[/]")
        return 1
    return 0


# ---- experiment ---------------------------------------------------------------------------------


def _settings_view(settings: Any) -> dict[str, Any]:
    """The lab settings worth keeping in a report (no token, no DSN with credentials)."""
    keep = ("replicas", "orders_port", "inventory_base_port", "monitor_port", "voter_port", "supervisor_port",
            "initial_stock", "health_interval_ms", "health_timeout_ms", "failure_threshold", "recovery_threshold",
            "recovery_interval_ms", "detector", "detector_params", "voter_timeout_ms", "voter_slow_ms",
            "restart_crashed")
    view = {k: getattr(settings, k) for k in keep}
    view["database"] = "external" if settings.database_url else "embedded PostgreSQL"
    view["broker"] = "external Kafka" if settings.kafka_bootstrap else "embedded Tansu"
    return view


def cmd_experiment(args: argparse.Namespace) -> int:
    from faultlab.lab.experiment import ExperimentConfig
    from faultlab.lab.phases import Thresholds, select_phases

    console = _console()

    def configure(netns: bool) -> ExperimentConfig:
        """The run's configuration; without --phases, the network phases join when the lab has a network."""
        return ExperimentConfig(
            phases=select_phases(args.phases, netns=netns), repeat=args.repeat, rate=args.rate,
            duration_s=args.duration, settle_s=args.settle, seed=args.seed, order_ratio=args.order_ratio,
            thresholds=Thresholds(args.max_ttd_ms, args.max_ttr_ms, args.max_restart_ttr_ms, args.min_success_rate,
                                  args.max_p95_ms))

    try:
        configure(netns=False)  # bad arguments are refused before any lab starts
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return EXIT_ABORTED
    # The supervisor (if we start the lab here) needs the standard event loop: see cmd_up.
    return asyncio.run(_experiment(args, configure, console))


def _lab_has_network(client: Any) -> bool:
    """Whether the running lab was started in network namespaces (its supervisor applies network faults)."""
    from faultlab.client import ApiCallError, LabNotRunning

    try:
        answer = client.call("GET", f"http://127.0.0.1:{client.settings.supervisor_port}/netfaults")
    except (ApiCallError, LabNotRunning):
        return False
    return bool(isinstance(answer, dict) and answer.get("netns"))


async def _experiment(args: argparse.Namespace, configure: Callable[[bool], Any], console: Any) -> int:
    from faultlab.client import LabClient, LabNotRunning, running_settings
    from faultlab.runtime.lab import Lab, LabError

    settings = running_settings(_settings(args))
    lab: Lab | None = None
    try:
        client = LabClient(settings, timeout_s=2)
        await asyncio.to_thread(client.processes)
        netns = await asyncio.to_thread(_lab_has_network, client)
        console.print(f"using the running lab (lab folder {settings.home}"
                      f"{', services in network namespaces' if netns else ''})")
        if args.netns and not netns:
            console.print("[yellow]--netns ignored: the running lab is not a namespace lab "
                          "(stop it first to start one with --netns)[/]")
    except LabNotRunning:
        netns = bool(args.netns)
        console.print("no lab running: starting one for this experiment (stopped at the end)"
                      + (" with each service in its own network namespace" if netns else ""))
        try:
            lab = Lab(_settings(args), progress=lambda msg: console.log(msg), netns=netns)
        except (LabError, OSError) as exc:
            console.print(f"[bold red]the lab cannot be set up here:[/] {exc}")
            return EXIT_ABORTED
        started = time.perf_counter()
        try:
            await lab.start(timeout_s=args.startup_timeout)
        except (LabError, OSError) as exc:
            console.print(f"[bold red]the lab did not start:[/] {exc}")
            await lab.stop()
            return EXIT_ABORTED
        except (KeyboardInterrupt, asyncio.CancelledError):
            await lab.stop()
            return EXIT_INTERRUPTED
        console.print(f"[green]lab working[/] in {time.perf_counter() - started:.1f} s")
        settings = lab.settings
    try:
        return await _run_and_report(args, configure(netns), settings, console)
    finally:
        if lab is not None:
            console.print("stopping the lab this experiment started…")
            await lab.stop()


async def _run_and_report(args: argparse.Namespace, config: Any, settings: Any, console: Any) -> int:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from faultlab.lab.experiment import ExperimentRunner
    from faultlab.lab.report import build_report, write_run

    total = len(config.phases) * config.repeat
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}", style="bold"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[load]}"),
                        console=console, transient=False)
    task = progress.add_task("starting", total=total, load="")

    def on_phase(result: dict[str, Any]) -> None:
        lr = result["load_test_result"]
        mark = "[green]ok[/]" if result["passed"] else "[red]missed[/]: " + escape("; ".join(result["missed"]))
        progress.console.log(f"{result['phase']} #{result['repetition']}: TTD {_fmt(result['ttd_ms'])} ms, "
                             f"TTR {_fmt(result['ttr_ms'])} ms, {lr['rps']} rps, p95 {_fmt(lr['p95_latency_ms'])} ms, "
                             f"success {_fmt(lr['success_rate'], 2)} % — {mark}")
        progress.advance(task)

    runner = ExperimentRunner(settings, config, on_step=lambda msg: progress.update(task, description=msg),
                              on_phase=on_phase)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if runner.interrupted or runner._interrupt:
            if main is not None:
                main.cancel()  # a second Ctrl-C: stop waiting (the lab's own stop still runs)
            return
        progress.console.log("[yellow]interrupted: clearing every fault, then writing a partial report[/]")
        runner.interrupt()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    async def ticker() -> None:
        while True:
            total_stats = runner.recorder.total
            recent = [runner.recorder.seconds.get(int(time.time()) - k) for k in range(2, 7)]
            recent_ok = sum(s.ok for s in recent if s)
            recent_n = sum(s.requests for s in recent if s)
            rate = f"{100 * recent_ok / recent_n:.1f} % ok (last 5 s)" if recent_n else ""
            progress.update(task, load=f"{total_stats.requests} requests · {rate}")
            await asyncio.sleep(0.5)

    tick = asyncio.create_task(ticker())
    try:
        with progress:
            data = await runner.run()
    finally:
        tick.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(data["started_at"]))
    report = build_report(data, _settings_view(settings), config.thresholds, run_id)
    runs_dir = Path(args.runs_dir or getattr(settings, "runs_dir", None) or "runs")
    run_dir = write_run(report, data["events"], runs_dir, settings.home / "logs")
    print_summary(console, report)
    console.print(f"report: {run_dir / 'report.json'}\n        {run_dir / 'report.html'}\n"
                  f"        (also {runs_dir / 'latest'})")
    if data["aborted"]:
        console.print(f"[bold red]aborted:[/] {data['aborted']}")
        return EXIT_ABORTED
    if data["interrupted"]:
        return EXIT_INTERRUPTED
    return EXIT_OK if report["verdict"]["valid"] else EXIT_MISSED


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def print_summary(console: Any, report: dict[str, Any]) -> None:
    """The end-of-run table: per phase medians and spread, the guide's summary, the verdict."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape("experiment summary: median [min–max] over repetitions"))
    for column in ("phase", "reps", "TTD ms", "TTR ms", "rps", "p95 ms", "p99 ms", "success %", "verdict"):
        table.add_column(column, justify="left" if column in ("phase", "verdict") else "right")

    def dist(d: dict[str, Any], digits: int = 0, applies: bool = True) -> str:
        if d["median"] is None:
            return "n/a" if not applies else "-" if not d["missing"] else f"[red]missing ×{d['missing']}[/]"
        if d["n"] > 1:
            return escape(f"{d['median']:.{digits}f} [{d['min']:.{digits}f}–{d['max']:.{digits}f}]")
        return f"{d['median']:.{digits}f}"

    for name, st in report["phases"].items():
        verdict = "[green]pass[/]" if st["passed"] else "[red]" + escape("; ".join(st["missed"])) + "[/]"
        fault = st.get("has_fault", True)
        table.add_row(name, str(st["repetitions"]), dist(st["ttd_ms"], applies=fault), dist(st["ttr_ms"], applies=fault),
                      dist(st["rps"], 1),
                      dist(st["p95_latency_ms"], 1), dist(st["p99_latency_ms"], 1), dist(st["success_rate"], 2),
                      verdict)
    console.print(table)
    s = report["summary"]
    console.print(f"summary: {s['successful_tests']}/{s['total_tests']} phase runs passed · avg TTD "
                  f"{_fmt(s['avg_ttd_ms'])} ms · avg TTR {_fmt(s['avg_ttr_ms'])} ms · max p95 "
                  f"{_fmt(s['max_p95_ms'], 1)} ms · min success {_fmt(s['min_success_rate'], 2)} % · "
                  f"detector {report['experiment_info']['detector'].get('name')}")
    dc = report["data_check"]
    console.print(f"data check: {dc.get('valid')} ({dc.get('accepted_orders', 0)} accepted orders, "
                  f"{dc.get('events_in_log', 0)} events in the log)")
    v = report["verdict"]
    if v["valid"]:
        from faultlab.lab.report import runs_off_threshold

        single = [run for run, _missed in runs_off_threshold(report)]
        console.print("[bold green]verdict: PASS[/] (each phase judged on its medians"
                      + (f"; off a threshold in a single run: {', '.join(single)})" if single else ")"))
    else:
        console.print("[bold red]verdict: FAIL[/] — " + escape("; ".join(v["missed"])))


# ---- report -------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from faultlab.lab.report import load_report, regenerate_html, validate

    console = _console()
    try:
        report, _run_dir = load_report(Path(args.path))
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    if args.validate:
        import jsonschema

        try:
            validate(report)
        except jsonschema.ValidationError as exc:
            console.print(f"[red]report.json does not match its schema:[/] {exc.message} at "
                          f"{'/'.join(map(str, exc.absolute_path))}")
            return 1
        console.print("report.json matches report.schema.json")
    out = regenerate_html(Path(args.path))
    print_summary(console, report)
    console.print(f"wrote {os.path.relpath(out)}")
    return 0
