"""`faultlab demo`: the guide's ten-minute demo — a short scripted experiment (lab/demo.yaml: one fault of each of
the guide's four kinds) run as `faultlab experiment` runs it, narrated on the dashboard's presentation page (/demo)
and in the terminal, one sentence per step with this run's own figures."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from faultlab.core import i18n
from faultlab.core.background import cancel_all
from faultlab.core.i18n import _


def register(sub: Any) -> None:
    """Add `demo` to the CLI's subparsers."""
    from faultlab.lab.demo import DEMO_FILE
    from faultlab.lab.experiment_reader import read_experiment

    demo, _source, _places = read_experiment(DEMO_FILE)
    load = demo.load
    cmd = sub.add_parser(
        "demo", help=_("the guide's live demo: one fault of each kind (about two minutes), narrated on the "
                       "dashboard's presentation page"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_("Runs the guide's demo (\"Demostración en Vivo\"): a short experiment with one fault of each of "
                      "the guide's four kinds — crash (replica 1), latency 1200 ms (replica 2), intermittent 30 % "
                      "(replica 3), incorrect PROD-001 (replica 1) — under a light open-loop load, about two minutes. "
                      "Open the dashboard's presentation page (its address is printed: /demo on the dashboard) on "
                      "the projector: large replica cards, the current step said in one sentence with this run's "
                      "own figures (the fault, the monitor's timeout, when it turned OFF, when it came back), and "
                      "the episode timeline of the step just finished. The terminal says the same sentences. It "
                      "uses the running lab, or starts one and stops it at the end. Ctrl-C clears every fault, "
                      "writes a partial report and leaves nothing running. The experiment is {file} (`faultlab "
                      "experiment --file` runs it without the narration); the report is written to runs/ as any "
                      "experiment's.").format(file=DEMO_FILE.name))
    cmd.add_argument("--hold-s", type=float, help=_("seconds each fault is held (default {n})").format(
        n=f"{load.duration_s:g}"))
    cmd.add_argument("--settle-s", type=float, help=_("seconds of load before each fault and after recovery "
                                                      "(default {n})").format(n=f"{load.settle_s:g}"))
    cmd.add_argument("--rate", type=float, help=_("load in requests/s (default {n})").format(n=f"{load.rate_rps:g}"))
    cmd.add_argument("--runs-dir", help=_("where run folders go (default FAULTLAB_RUNS_DIR, else ./runs)"))
    cmd.add_argument("--startup-timeout", type=float, default=90.0, help=_("seconds to wait for a lab it starts"))
    cmd.set_defaults(func=cmd_demo)


class Narration:
    """The demo's narrator around one run: it follows the runner, records the monitor's observations for the
    timelines, says each step in the terminal, and closes everything it opened when the run ends."""

    def __init__(self, settings: Any, experiment: Any, console: Any) -> None:
        from faultlab.core.client import LabClient
        from faultlab.lab.demo import Narrator, sentence

        self.narrator = Narrator(settings, experiment, title=experiment.title)
        self.client = LabClient(settings, timeout_s=5)
        self.tasks: list[asyncio.Task[None]] = []
        self.console = console
        lang = i18n.active()
        said: set[str] = set()

        def say(step: Any) -> None:
            text = sentence(step, self.narrator.state, lang)
            if text not in said:
                said.add(text)
                console.print("[bold]» " + text + "[/]")

        self.narrator.on_change = say
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
        console.print(_("presentation page: {url}").format(
            url=f"http://{host}:{settings.dashboard_port}/demo?lang={lang}"))

    def start(self, runner: Any) -> None:
        from faultlab.lab.demo import record_trace

        async def trace() -> None:
            await self.client.start()
            await record_trace(self.narrator, self.client)

        self.tasks = [asyncio.create_task(self.narrator.follow(runner), name="demo-narrator"),
                      asyncio.create_task(trace(), name="demo-trace")]
        self.runner = runner

    def phase(self, result: Any) -> None:
        self.narrator.phase_done(result)

    async def stop(self) -> None:
        await cancel_all(self.tasks)
        await self.client.stop()
        self.narrator.stop(bool(getattr(self, "runner", None) and self.runner.interrupted))

    def finish(self, run_dir: Any, interrupted: bool) -> None:
        self.narrator.report_written(run_dir)


def cmd_demo(args: argparse.Namespace) -> int:
    from faultlab.cli.experiment import cmd_experiment
    from faultlab.lab.demo import DEMO_FILE

    # `faultlab experiment --file demo.yaml` with this command's options, and the narrator
    for name in ("phases", "repeat", "seed", "order_ratio", "max_ttd_ms", "max_ttr_ms", "max_restart_ttr_ms",
                 "min_success_rate", "max_p95_ms"):
        setattr(args, name, None)
    args.file, args.check, args.no_reset, args.netns = str(DEMO_FILE), False, False, False
    args.duration, args.settle = args.hold_s, args.settle_s
    args.narrate = Narration
    return int(cmd_experiment(args))
