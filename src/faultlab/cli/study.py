"""`faultlab study detectors` (record on the lab, replay the grid, write the page) and `faultlab study replay PATH`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from faultlab.cli.console import decimal, number, typed
from faultlab.core.i18n import N_, _

EXIT_OK, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 2, 130
# The lab's settings a study records beside its traces (study.json's `lab`): what the monitor judged with.
LAB_SETTINGS = ("replicas", "health_interval_ms", "health_timeout_ms", "failure_threshold", "recovery_threshold",
                "recovery_interval_ms", "detector", "detector_params", "stale_after_ms", "stale_after_busy_ms",
                "caught_up_ms", "voter_timeout_ms", "voter_slow_ms")

DESCRIPTION = N_("""\
Records the monitor's raw observations on the lab under an open-loop load (every probe, vote and passive
signal, with its timestamp and outcome) through: a fault-free stretch (--quiet-s), the same with a CPU hog of
--hog-procs busy processes on the host, in bursts at a high priority (--noisy-s; the study starts the hog and
always stops it; each hog process also ends by itself), and each fault kind x --reps repetitions (each held
--hold-s; stale twice as long) with known activation and clear times.
Then replays the traces offline through every detector (consecutive, error-rate, phi-accrual, success-rate) and a
grid of its parameters, and writes runs/<UTC time>-detectors/: study.json, study.html (per fault kind a scatter of
TTD p95 against false OFFs per hour, the Pareto front, the lab's current setting marked) and traces/.
It prints the setting it recommends for --budget false OFFs per hour. Uses the running lab, or starts one (and
stops it at the end). The defaults make a real study of about 30 minutes; for a quick look (~6 minutes):
  faultlab study detectors --quiet-s 60 --noisy-s 60 --reps 3
`faultlab study replay runs/<folder>` judges the recorded traces again (another budget, a changed detector).""")


def register(sub: Any) -> None:
    """Add `study` (with `detectors` and `replay`) to the CLI's subparsers."""
    from faultlab.lab.study.pareto import DEFAULT_FLAP_BUDGET
    from faultlab.lab.study.report import DEFAULT_BUDGET, DEFAULT_FOCUS
    from faultlab.lab.study.runner import FAULTS, StudyConfig

    d = StudyConfig()
    study = sub.add_parser("study", help=_("the detector study: detection time against false alarms, on recorded "
                                           "traces"))
    kinds = study.add_subparsers(dest="study", required=True, metavar=_("STUDY"))
    det = kinds.add_parser("detectors", help=_("record traces on the lab, replay every detector setting, write the "
                                               "page"),
                           description=_(DESCRIPTION), formatter_class=argparse.RawDescriptionHelpFormatter)
    det.add_argument("--quiet-s", type=decimal, default=d.quiet_s,
                     help=_("seconds of the fault-free stretch (default {default}; 0 skips it)").format(
                         default=typed(d.quiet_s)))
    det.add_argument("--noisy-s", type=decimal, default=d.noisy_s,
                     help=_("seconds of the fault-free stretch on a noisy host (default {default}; 0 skips "
                            "it)").format(default=typed(d.noisy_s)))
    det.add_argument("--hog-procs", type=int, default=d.hog_procs,
                     help=_("busy processes of the CPU hog in the noisy stretch (default {default}: one per "
                            "core)").format(default=d.hog_procs))
    det.add_argument("--hog-nice", type=int, default=d.hog_nice,
                     help=_("the hog's priority (default {default}, when allowed: a hog at normal priority barely "
                            "delays a lab whose processes mostly sleep)").format(default=d.hog_nice))
    det.add_argument("--hog-burst-ms", type=decimal, default=d.hog_burst_ms,
                     help=_("the hog spins this long in every period (default {default})").format(
                         default=typed(d.hog_burst_ms)))
    det.add_argument("--hog-period-ms", type=decimal, default=d.hog_period_ms,
                     help=_("the period of its bursts (default {default}; equal to the burst: always busy)").format(
                         default=typed(d.hog_period_ms)))
    det.add_argument("--reps", type=int, default=d.reps,
                     help=_("repetitions of each fault kind (default {default})").format(default=d.reps))
    det.add_argument("--kinds", default=",".join(d.kinds),
                     help=_("fault kinds, comma-separated (of {kinds})").format(kinds=", ".join(FAULTS)))
    det.add_argument("--hold-s", type=decimal, default=d.hold_s,
                     help=_("seconds each fault is held (default {default}); a detection later than that is a "
                            "miss").format(default=typed(d.hold_s)))
    det.add_argument("--settle-s", type=decimal, default=d.settle_s, help=_("seconds between repetitions"))
    det.add_argument("--warmup-s", type=decimal, default=d.warmup_s,
                     help=_("seconds at the start of each segment that are replayed but not judged (detectors "
                            "learn)"))
    det.add_argument("--rate", type=decimal, default=d.rate,
                     help=_("load in requests/s (default {default})").format(default=typed(d.rate)))
    det.add_argument("--order-ratio", type=decimal, default=d.order_ratio, help=_("share of orders in the load"))
    det.add_argument("--seed", type=int, default=d.seed, help=_("seeds the load mix and the faults' randomness"))
    _judging(det, DEFAULT_BUDGET, DEFAULT_FOCUS, DEFAULT_FLAP_BUDGET)
    det.add_argument("--runs-dir", help=_("where run folders go (default FAULTLAB_RUNS_DIR, else ./runs)"))
    det.add_argument("--startup-timeout", type=decimal, default=90.0, help=_("seconds to wait for a lab it starts"))
    det.set_defaults(func=cmd_detectors)

    rep = kinds.add_parser("replay", help=_("judge a study's recorded traces again and rewrite study.json and "
                                            "study.html"))
    rep.add_argument("path", help=_("a study folder (runs/<UTC time>-detectors) or its study.json"))
    _judging(rep, None, None, None)
    rep.set_defaults(func=cmd_replay)


def _judging(parser: argparse.ArgumentParser, budget: float | None, focus: str | None,
             flap_budget: float | None) -> None:
    own = _("the study's own")
    parser.add_argument("--budget", type=decimal, default=budget,
                        help=_("false OFFs per hour (quiet and noisy stretches together) allowed for the "
                               "recommendation (default {default})").format(
                            default=own if budget is None else typed(budget)))
    parser.add_argument("--flap-budget", type=decimal, default=flap_budget,
                        help=_("times per fault the faulty replica may be let back in while its fault lasts, on the "
                               "kind where that is most, allowed for the recommendation (default {default})").format(
                            default=own if flap_budget is None else typed(flap_budget)))
    parser.add_argument("--focus", default=focus,
                        help=_("the fault kind whose TTD p95 the recommendation minimises (default {default})").format(
                            default=focus or own))


def _console() -> Any:
    from faultlab.cli.console import wide_console

    return wide_console()


def cmd_detectors(args: argparse.Namespace) -> int:
    from faultlab.lab.study.runner import StudyConfig

    console = _console()
    try:
        config = StudyConfig(quiet_s=args.quiet_s, noisy_s=args.noisy_s, reps=args.reps,
                             kinds=[k.strip() for k in args.kinds.split(",") if k.strip()], hold_s=args.hold_s,
                             settle_s=args.settle_s, warmup_s=args.warmup_s, rate=args.rate,
                             order_ratio=args.order_ratio, hog_procs=args.hog_procs, hog_nice=args.hog_nice,
                             hog_burst_ms=args.hog_burst_ms, hog_period_ms=args.hog_period_ms, seed=args.seed)
        if args.budget < 0 or args.flap_budget < 0:
            raise ValueError(_("the budget must not be negative"))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return EXIT_ABORTED
    return asyncio.run(_with_lab(args, config, console))


async def _with_lab(args: argparse.Namespace, config: Any, console: Any) -> int:
    from faultlab.cli.console import settings as _settings
    from faultlab.core.client import LabClient, Unreachable
    from faultlab.runtime.state import running_settings
    from faultlab.runtime.supervisor import Supervisor, SupervisorError

    settings = running_settings(_settings(args))
    supervisor: Supervisor | None = None
    try:
        async with LabClient(settings, timeout_s=2) as client:
            await client.processes()
        console.print(_("using the running lab (lab folder {home})").format(home=settings.home))
    except Unreachable:
        console.print(_("no lab running: starting one for this study (stopped at the end)"))
        try:
            supervisor = Supervisor(_settings(args), progress=console.log)
            await supervisor.start(timeout_s=args.startup_timeout)
        except (SupervisorError, OSError) as exc:
            console.print("[bold red]" + _("the lab did not start:") + f"[/] {exc}")
            if supervisor is not None:
                await supervisor.stop()
            return EXIT_ABORTED
        settings = supervisor.settings
    try:
        return await _record_and_judge(args, config, settings, console)
    finally:
        if supervisor is not None:
            console.print(_("stopping the lab this study started…"))
            await supervisor.stop()


async def _record_and_judge(args: argparse.Namespace, config: Any, settings: Any, console: Any) -> int:
    from faultlab.lab.report import new_run_dir
    from faultlab.lab.study.report import analyse, write_study
    from faultlab.lab.study.runner import StudyRunner

    runs_dir = Path(args.runs_dir or getattr(settings, "runs_dir", None) or "runs")
    started = time.time()
    run_dir = new_run_dir(runs_dir, started)
    run_dir = run_dir.rename(run_dir.with_name(run_dir.name + "-detectors"))
    runner = StudyRunner(settings, config, run_dir, on_step=console.log)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: task.cancel() if task else None)
    try:
        meta = await runner.run()
    except asyncio.CancelledError:
        console.print("[yellow]" + _("interrupted: faults cleared, hog stopped; partial traces in {folder}").format(
            folder=run_dir) + "[/]")
        return EXIT_INTERRUPTED
    except (RuntimeError, OSError) as exc:
        console.print("[bold red]" + _("the study stopped:") + f"[/] {exc}")
        return EXIT_ABORTED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    meta["run_id"] = run_dir.name
    meta["lab"] = {k: getattr(settings, k) for k in LAB_SETTINGS}
    console.log(_("replaying every detector setting over the recorded traces"))
    study = await asyncio.to_thread(lambda: analyse(run_dir, meta, args.budget, args.focus,
                                                    flap_budget=args.flap_budget))
    write_study(run_dir, study)
    print_summary(console, study)
    console.print(_("study: {json}\n       {html}\n       traces in {traces}").format(
        json=run_dir / "study.json", html=run_dir / "study.html", traces=run_dir / "traces"))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from faultlab.lab.study.pareto import flap_budget_of
    from faultlab.lab.study.report import analyse, load_study, recording_only, write_study

    console = _console()
    try:
        study, run_dir = load_study(Path(args.path))
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        return EXIT_ABORTED
    budget = study.get("budget_per_hour") if args.budget is None else args.budget
    focus = study.get("focus") if args.focus is None else args.focus
    flap_budget = flap_budget_of(study) if args.flap_budget is None else args.flap_budget
    if (budget is not None and budget < 0) or flap_budget < 0:
        console.print("[red]" + _("the budget must not be negative") + "[/]")
        return EXIT_ABORTED
    try:
        fresh = analyse(run_dir, recording_only(study), budget, focus,  # type: ignore[arg-type]  # study.json has both
                        flap_budget=flap_budget)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        console.print("[red]" + _("cannot replay {folder}:").format(folder=run_dir) + f" {exc}[/]")
        return EXIT_ABORTED
    write_study(run_dir, fresh)
    print_summary(console, fresh)
    console.print(_("rewrote {json} and {html}").format(json=run_dir / "study.json", html=run_dir / "study.html"))
    return EXIT_OK


def print_summary(console: Any, study: dict[str, Any]) -> None:
    """The front on the focus kind, then the current and the recommended settings on every kind."""
    from rich.markup import escape
    from rich.table import Table

    from faultlab.lab.study.html import front, rate
    from faultlab.lab.study.pareto import flap_budget_of
    from faultlab.lab.study.replay import setting_env

    focus, kinds = study["focus"], study["grid"]["kinds"]
    grid = study["grid"]
    console.print(_("replayed {settings} settings over {observations} observations in {seconds} s").format(
        settings=grid["settings"], observations=number(grid["observations"]), seconds=number(grid["replay_s"], 2)))
    if focus in kinds:
        table = Table(title=escape(_("Pareto front on {kind}: TTD p95 against false OFFs per hour "
                                     "(fault-free)").format(kind=focus)))
        for column, left in ((_("setting"), True), (_("TTD median ms"), False), (_("TTD p95 ms"), False),
                             (_("faults not detected"), False), (_("flaps"), False), (_("false OFF/h"), False),
                             (_("false OFF/h noisy"), False), (_("false OFF/h quiet"), False)):
            table.add_column(column, justify="left" if left else "right")
        for r in front(study, focus):
            t = r["ttd"][focus]
            table.add_row(escape(r["setting"]["label"]) + (" ★" if r["current"] else ""), number(t["median_ms"]),
                          number(t["p95_ms"]), str(t["missed"]), str(t["flaps"]), number(rate(r), 2),
                          number(rate(r, "noisy"), 2), number(rate(r, "quiet"), 2))
        console.print(table)
    table = Table(title=_("TTD median / p95 (ms) per fault kind"))
    table.add_column(_("setting"))
    for kind in kinds:
        table.add_column(kind, justify="right")
    table.add_column(_("false OFF/h (noisy / quiet)"), justify="right")
    for name, chosen in ((_("current"), study.get("current_result")),
                         (_("recommended"), study.get("recommended_result"))):
        if chosen is None:
            continue
        table.add_row(f"{name}: {escape(chosen['setting']['label'])}",
                      *[f"{number(chosen['ttd'][k]['median_ms'])} / {number(chosen['ttd'][k]['p95_ms'])}" for k in kinds],
                      f"{number(rate(chosen), 2)} ({number(rate(chosen, 'noisy'), 2)} / {number(rate(chosen, 'quiet'), 2)})")
    console.print(table)
    on = [k for k, v in study["current_on_front"].items() if v]
    console.print(_("the lab's current setting is on the front for: {kinds}").format(
        kinds=", ".join(on) or _("no fault kind")))
    pick = study.get("recommended")
    if pick:
        console.print(_("[bold]recommended[/] for ≤ {budget} false OFF/h (fault-free stretches) and flaps per fault "
                        "≤ {flaps}, fastest on {focus}: [bold]{setting}[/]  ({env})").format(
            budget=f"{study['budget_per_hour']:g}", flaps=f"{flap_budget_of(study):g}", focus=focus,
            setting=escape(pick["label"]), env=escape(setting_env(pick))))
    else:
        console.print("[yellow]" + _("no setting stays within {budget} false OFF/h and flaps per fault ≤ {flaps} "
                                     "without a miss").format(
            budget=f"{study['budget_per_hour']:g}", flaps=f"{flap_budget_of(study):g}") + "[/]")
