"""What the paired benchmark prints: each figure for A and B, B/A over the rounds, each over its calibration, and
the targets met or not (pure: rounds in, lines out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.paired_stats import (
    Condition,
    Round,
    Target,
    Verdict,
    evaluate,
    over_calibration,
    ratios,
    side_values,
)


@dataclass(frozen=True)
class Figure:
    """One measured figure: its key in a round, how it is printed, and whether lower is better."""

    key: str
    label: str
    digits: int = 0
    lower_is_better: bool = False


FIGURES = (
    Figure("warm_start_s", "warm start to working, s (2nd `up --detach` on a lab folder, voted read 200, order 201)",
           2, lower_is_better=True),
    Figure("cold_start_s", "cold start to working, s (1st start: initdb)", 2, lower_is_better=True),
    Figure("idle_cpu_pct", "idle CPU of the whole lab, % of one core (every lab process, warm spares included)", 1,
           lower_is_better=True),
    Figure("lab_processes", "lab processes in the idle window"),
    Figure("pause_applied_ms", "an order after 2 s of quiet: ms to applied by every replica (median of 5)", 1,
           lower_is_better=True),
    Figure("pause_decided_ms", "... and to decided (GET /orders/{id} no longer PENDING)", 1, lower_is_better=True),
    Figure("reads_per_s", "voted reads/s at saturation (wrk -t1 -c32, GET /inventory/voted)"),
    Figure("orders_per_s", "accepted orders/s at saturation (wrk -t1 -c32, POST /orders, 201s only)"),
    Figure("max_lag_ms", "worst replica behind when that load stopped, ms", lower_is_better=True),
    Figure("mixed_reads_per_s", "voted reads/s with 500 orders/s flowing (wrk + open-loop orders)"),
    Figure("mixed_orders_per_s", "orders/s accepted meanwhile (open loop, 500/s sent)"),
)
CALIBRATION = (
    Figure("http_req_per_s", "trivial aiohttp JSON server, req/s (one process, wrk -t1 -c32)"),
    Figure("pg_tx_per_s", "asyncpg single-row INSERT tx/s (16 connections, embedded PostgreSQL)"),
)
# (figure, calibration, label): each figure over the calibration measured in the same round
OVER_CALIBRATION = (
    ("reads_per_s", "http_req_per_s", "voted reads/s ÷ aiohttp req/s"),
    ("orders_per_s", "http_req_per_s", "accepted orders/s ÷ aiohttp req/s"),
    ("orders_per_s", "pg_tx_per_s", "accepted orders/s ÷ asyncpg tx/s"),
    ("mixed_reads_per_s", "http_req_per_s", "voted reads/s with 500 orders/s ÷ aiohttp req/s"),
)
ORDERS_RATE = 500.0  # the order rate flowing while voted reads are measured (issue 25)
TARGETS = (
    Target("warm start to working ≤ 0.6× A", "warm_start_s", at_most=0.6),
    Target("idle CPU of the whole lab ≤ 0.6× A", "idle_cpu_pct", at_most=0.6),
    Target("accepted orders/s ≥ 1.5× A, every replica ≤ 100 ms behind", "orders_per_s", at_least=1.5,
           conditions=(Condition("max_lag_ms", at_most=100, label="B's worst replica behind, ms"),)),
    Target("voted reads/s with 500 orders/s ≥ 0.5× calibration req/s", "mixed_reads_per_s", at_least=0.5,
           calibration="http_req_per_s",
           conditions=(Condition("mixed_orders_per_s", at_least=0.95 * ORDERS_RATE,
                                 label="B's orders/s accepted meanwhile (≥ 475)"),)),
)


def _row(cells: Sequence[str], widths: Sequence[int], text_columns: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) if i in text_columns else cell.rjust(width)
                     for i, (cell, width) in enumerate(zip(cells, widths, strict=True))).rstrip()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: Sequence[int] = (0,)) -> list[str]:
    """Columns as wide as their longest cell; text columns left-aligned, figures right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths, text_columns), _row(["-" * w for w in widths], widths, text_columns),
            *(_row(r, widths, text_columns) for r in rows)]


def figures_table(rounds: Sequence[Round], a: str, b: str) -> list[str]:
    """A and B (median [min–max] over the rounds) and B/A (median [min–max] of the per-round ratios)."""
    rows = []
    for figure in FIGURES:
        ratio = ratios(rounds, figure.key)
        rows.append([figure.label, side_values(rounds, "A", figure.key).text(figure.digits),
                     side_values(rounds, "B", figure.key).text(figure.digits), ratio.text(2, "×")])
    return _table(["figure (median [min–max] over rounds)", f"A {a}", f"B {b}", "B/A"], rows)


def calibration_tables(rounds: Sequence[Round]) -> list[str]:
    """The calibration's own figures, then each lab figure over the calibration of its round, for A and B."""
    rows = [[c.label, side_values(rounds, "calibration", c.key).text(0)] for c in CALIBRATION]
    lines = _table(["calibration (same rounds)", "measured"], rows)
    over = [[label, over_calibration(rounds, "A", figure, cal).text(3), over_calibration(rounds, "B", figure, cal).text(3)]
            for figure, cal, label in OVER_CALIBRATION]
    return [*lines, "", *_table(["over the calibration of the same round", "A", "B"], over)]


def verdicts(rounds: Sequence[Round]) -> list[Verdict]:
    return [evaluate(target, rounds) for target in TARGETS]


def targets_table(rounds: Sequence[Round]) -> list[str]:
    """Each target with the median it is judged on (and its min–max), met or not met, and its conditions."""
    rows = []
    for verdict in verdicts(rounds):
        unit = "" if verdict.target.calibration else "×"
        judged = "not measured" if verdict.measured.count == 0 else "met" if verdict.met else "NOT met"
        rows.append([verdict.target.label, verdict.measured.text(2, unit), judged, "; ".join(verdict.notes)])
    return _table(["target (B against A, median over rounds)", "measured", "verdict", "also"], rows, (0, 2, 3))
