"""`faultlab compare RUN_A RUN_B [...]`: runs side by side in the terminal, and the comparison page it writes."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from faultlab.cli.console import number
from faultlab.core import i18n
from faultlab.core.i18n import _
from faultlab.core.said import render, said_of


def register(sub: Any) -> None:
    """Add `compare` to the CLI's subparsers."""
    from faultlab.lab.compare import MIN_REPETITIONS

    cmp = sub.add_parser("compare", help=_("runs side by side: each phase's TTD, TTR, p95 and success rate, their "
                                           "spread, and whether a difference is larger than the run-to-run noise"),
                         description=_("Compares two or more runs (folders under runs/, or their report.json): per "
                                       "phase, each metric's median, spread and exact 95 % interval of the median (6 "
                                       "repetitions or more); each run after the first is compared with the first by "
                                       "an exact rank test (Wilcoxon-Mann-Whitney, with the Hodges-Lehmann interval "
                                       "of the shift), and only when each has {min} repetitions or more: with fewer "
                                       "no test can tell two runs apart. Prints the table and writes a "
                                       "self-contained HTML page (like report.html).").format(min=MIN_REPETITIONS))
    cmp.add_argument("runs", nargs="+", metavar="RUN", help=_("run folders or report.json files (two or more); the "
                                                               "first is the reference"))
    cmp.add_argument("--html", help=_("the HTML page to write (default: <runs dir>/compare/<A>-vs-<B>.html)"))
    cmp.add_argument("--json", action="store_true", help=_("print the comparison as JSON instead of the table"))
    cmp.set_defaults(func=cmd_compare)


def _console() -> Any:
    from faultlab.cli.console import wide_console

    return wide_console()


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from faultlab.lab.compare import compare, load_runs
    from faultlab.lab.compare_html import render_compare
    from faultlab.lab.report import NotAReport

    console = _console()
    if len(args.runs) < 2:
        console.print("[red]" + _("compare needs two runs or more") + "[/]")
        return 2
    try:
        runs = load_runs([Path(p) for p in args.runs])
    except NotAReport as exc:
        console.print("[red]" + escape(exc.text(i18n.active())) + "[/]")
        return 2
    except (FileNotFoundError, ValueError, OSError) as exc:
        console.print("[red]" + escape(render(said_of(exc))) + "[/]")
        return 2
    comparison = compare(runs)
    if args.json:
        print(json.dumps(comparison, indent=2))
    else:
        if not comparison["like_with_like"]["same"]:
            console.print("[yellow]" + escape(not_alike(comparison)) + "[/]")
        table = Table(title=escape(_("runs side by side: median [min–max] and the exact 95 % interval of the median "
                                     "(6 repetitions or more); each run against {reference}: the difference of the "
                                     "medians, the interval of the shift and the rank test's p").format(
            reference=comparison["reference"])))
        table.add_column(_("phase"))
        table.add_column(_("metric"))
        for i, run in enumerate(comparison["runs"]):
            table.add_column(escape(run["name"]), justify="right")
            if i:
                table.add_column(_("difference"), justify="right")
        for row in comparison["rows"]:
            digits = 2 if row["metric"] == "success_rate" else 1
            cells = [row["phase"], _(row["label"])]
            for i, cell in enumerate(row["runs"]):
                cells.append(_cell(cell, digits))
                if i:
                    cells.append(_difference(cell, row["runs"][0], digits))
            table.add_row(*cells)
        console.print(table)
    out = Path(args.html) if args.html else _compare_path(args, [name for name, _report in runs])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_compare(comparison, i18n.active()), encoding="utf-8")
    (console.print if not args.json else (lambda *_a: None))(_("wrote {path}").format(path=out))
    return 0


def _compare_path(args: argparse.Namespace, names: list[str]) -> Path:
    runs_dir = Path(getattr(args, "runs_dir", None) or os.environ.get("FAULTLAB_RUNS_DIR") or "runs")
    return runs_dir / "compare" / ("-vs-".join(names)[:200] + ".html")


def _cell(cell: dict[str, Any], digits: int) -> str:
    from rich.markup import escape

    if cell["median"] is None:
        text = "-"
    elif cell["n"] > 1:
        text = escape(f"{number(cell['median'], digits)} [{number(cell['min'], digits)}–{number(cell['max'], digits)}]")
    else:
        text = number(cell["median"], digits)
    if cell["interval"]:
        text += "\n" + escape(f"({number(cell['interval'][0], digits)} … {number(cell['interval'][1], digits)})")
    if cell["misses"]:
        text += " [red]" + _("missing ×{n}").format(n=cell["misses"]) + "[/]"
    return text


def not_alike(comparison: dict[str, Any]) -> str:
    """The warning for runs whose TTD and TTR were measured differently (events against polls)."""
    polled = [run["name"] for run in comparison["runs"] if run["measured_by"] == "polled"]
    pushed = [run["name"] for run in comparison["runs"] if run["measured_by"] == "events"]
    return _("not like with like: the TTD and TTR of {pushed} come from the shop monitor's own event times, those of "
             "{polled} from polling a system's monitor every {ms} ms, which alone can add up to {ms} ms; measure the "
             "shop through the guide's contract to compare like with like (docs/your-system.md)").format(
        pushed=", ".join(pushed), polled=", ".join(polled), ms=f"{comparison['like_with_like']['up_to_ms'] or 20:g}")


def too_few(reference: dict[str, Any], cell: dict[str, Any]) -> str:
    """Why a difference is not judged: both runs' counts and the minimum (the terminal's and the page's words)."""
    from faultlab.lab.compare import MIN_REPETITIONS

    return _("too few repetitions to judge: {reference} and {other}; at least {min} each").format(
        reference=reference["n"], other=cell["n"], min=MIN_REPETITIONS)


def _difference(cell: dict[str, Any], reference: dict[str, Any], digits: int) -> str:
    from rich.markup import escape

    verdicts = {"better": "[green]" + _("better, beyond the noise") + "[/]",
                "worse": "[red]" + _("worse, beyond the noise") + "[/]",
                "same": "[dim]" + _("within the noise") + "[/]",
                "too_few": "[yellow]" + escape(too_few(reference, cell)) + "[/]", "unknown": "-"}
    if cell.get("difference") is None:
        return verdicts["unknown"]
    low, high = cell["difference_interval"] or (None, None)
    sign = "+" if cell["difference"] > 0 else ""
    interval = escape(f" [{number(low, digits)} … {number(high, digits)}]") if low is not None else ""
    p_value = f" p = {number(cell['p_value'], 3)}" if cell.get("p_value") is not None else ""
    return f"{sign}{number(cell['difference'], digits)}{interval}{p_value}\n{verdicts[cell['verdict']]}"
