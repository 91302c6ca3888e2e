"""The lab's measuring commands and their options: `faultlab load`, run here, `faultlab experiment` (cli/experiment.py)
and `faultlab report PATH` (cli/report.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from faultlab.cli.console import count, decimal, number, typed
from faultlab.cli.console import settings as _settings
from faultlab.cli.console import wide_console as _console
from faultlab.cli.experiment import EXIT_INTERRUPTED, cmd_experiment
from faultlab.cli.report import cmd_report
from faultlab.core import i18n
from faultlab.core.i18n import _


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
    table.add_row(count(data["requests"]), count(data["successful"]), number(data["rps"], 1),
                  *(number(data[k], 1) for k in ("avg_latency_ms", "p50_latency_ms", "p95_latency_ms",
                                               "p99_latency_ms", "max_latency_ms")),
                  number(data["success_rate"], 2), number(data["max_send_lag_ms"], 1))
    console.print(table)
    if data["errors"]:
        console.print(_("errors by kind:") + " " + ", ".join(f"{k} {count(v)}" for k, v in sorted(data["errors"].items())))
    if data["ambiguous"]:
        console.print(_("writes of unknown outcome (may be stored):") + " "
                      + ", ".join(f"{k} {count(v)}" for k, v in sorted(data["ambiguous"].items())))
    if len(data["by_kind"]) > 1:
        console.print(_("by kind:") + " " + "; ".join(
            _("{kind} {sent} sent, {ok} ok, {failed} failed, {unknown} unknown").format(
                kind=k, sent=count(v["sent"]), ok=count(v["ok"]), failed=count(v["fail"]),
                unknown=count(v["info"]))
            for k, v in data["by_kind"].items()))
    if not data["requests"] or data["successful"] == 0:
        console.print("[red]" + _("no request succeeded: is the lab running? (`faultlab up`)") + "[/]")
        return 1
    return 0
