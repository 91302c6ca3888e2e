"""Staleness in time: when the others applied the first event a replica lacks, from literal commit reports."""

from __future__ import annotations

import asyncio
import time

import pytest

from faultlab.shop.inventory.loop_watch import LoopWatch
from faultlab.shop.monitor.freshness import LogFrontier, last_progress, loop_stall_s, staleness


def test_a_replica_lacking_nothing_is_not_behind() -> None:
    """Every replica at the same position: nobody is behind, whatever the clock says."""
    f = LogFrontier([1, 2, 3])
    for r in (1, 2, 3):
        f.note(r, 5, [(3, 10.0), (5, 10.1)], 10.2)
    assert all(f.behind_s(r, 5, 99.0) == 0.0 for r in (1, 2, 3))


def test_behind_is_counted_from_the_first_other_replica_that_applied_the_missing_event() -> None:
    """Replica 1 stopped at 5; replica 2 applied 6 at 20.0, replica 3 at 20.3: replica 1 is behind since 20.0."""
    f = LogFrontier([1, 2, 3])
    f.note(1, 5, [(5, 10.0)], 10.5)
    f.note(2, 9, [(6, 20.0), (9, 21.0)], 21.5)
    f.note(3, 9, [(7, 20.3), (9, 21.2)], 21.5)
    assert f.applied_by_others(1, 6) == 20.0
    assert f.behind_s(1, 5, 20.45) == pytest.approx(0.45, abs=1e-9)
    assert f.behind_s(1, 9, 30.0) == 0.0
    assert f.behind_s(2, 9, 30.0) == 0.0


def test_its_own_commits_never_vouch_for_itself() -> None:
    """Only the others' commits tell the log end: a replica that alone applied seq 6 makes no one else behind
    until another replica reports it, and is judged against the others, not itself."""
    f = LogFrontier([1, 2])
    f.note(1, 6, [(6, 5.0)], 5.1)
    f.note(2, 5, [(5, 4.0)], 5.1)
    assert f.behind_s(2, 5, 9.0) == 4.0  # replica 1 applied 6 at 5.0
    assert f.behind_s(1, 6, 9.0) == 0.0


def test_a_probe_position_is_a_point_too_and_the_earlier_moment_wins() -> None:
    """The position seen by a probe counts as applied by then; a commit report of the same seq keeps the earlier time."""
    f = LogFrontier([1, 2])
    f.note(2, 8, [], 7.0)
    f.note(2, 8, [(8, 6.5)], 7.2)
    assert f.applied_by(2, 8) == 6.5
    assert f.applied_by(2, 9) is None


def test_the_gap_before_an_event_tells_a_flowing_log_from_a_quiet_one() -> None:
    """Events 50 ms apart: a small gap (replicas fetch often); after 3 s of quiet: a large one."""
    f = LogFrontier([1, 2])
    f.note(2, 12, [(10, 100.0), (11, 100.05), (12, 103.05)], 103.1)
    assert f.gap_before_s(1, 11) == pytest.approx(0.05, abs=1e-9)
    assert f.gap_before_s(1, 12) == 3.0
    assert f.gap_before_s(1, 13) is None


def test_the_healthy_apply_skew_is_sampled_from_later_commits_and_forgotten_after_a_while() -> None:
    """Replica 2 commits each batch 80 ms after replica 1: the skew's p99 is 80 ms; a replica that is not healthy
    adds nothing, a catching-up lag is capped, and samples older than the window are dropped."""
    f = LogFrontier([1, 2, 3])
    f.note(1, 40, [(10 * k, 100.0 + k) for k in range(1, 5)], 104.1)
    f.sample_skew(2, [(10 * k, 100.08 + k) for k in range(1, 5)], healthy=True, ceiling_s=0.5)
    assert f.skew_s(105.0) == pytest.approx(0.08, abs=1e-9)
    f.sample_skew(3, [(10 * k, 103.0 + k) for k in range(1, 5)], healthy=False, ceiling_s=0.5)
    assert f.skew_s(105.0) == pytest.approx(0.08, abs=1e-9)
    f.sample_skew(3, [(50, 110.0)], healthy=True, ceiling_s=0.5)  # nothing known about seq 50 elsewhere yet
    assert len(f.skews) == 4
    f.note(1, 60, [(60, 107.0)], 107.1)
    f.sample_skew(3, [(60, 109.0)], healthy=True, ceiling_s=0.5)
    assert max(lag for _at, lag in f.skews) == 0.5
    assert f.skew_s(200.0) == 0.0


def test_behind_and_still_applying_is_not_stale_until_it_cannot_keep_up() -> None:
    """Lacking an event applied elsewhere 350 ms ago (allowance 200 ms): stale if it committed nothing for the
    allowance, not if it committed 50 ms ago (a loaded machine, catching up); past the lag limit it is 'lagging'
    whatever it commits; within its allowance it is nothing at all."""
    now = 1000.0

    assert staleness(0.35, 0.2, now - 3.0, now, 2.0) == "stopped"
    assert staleness(0.35, 0.2, None, now, 2.0) == "stopped"
    assert staleness(0.35, 0.2, now - 0.05, now, 2.0) is None
    assert staleness(2.5, 0.2, now - 0.05, now, 2.0) == "lagging"
    assert staleness(0.15, 0.2, now - 3.0, now, 2.0) is None


def test_progress_is_a_commit_records_taken_in_a_batch_being_applied_or_a_fetch_awaited() -> None:
    """A replica moves on the log when it commits, takes records in, applies a batch taken less than the lag limit
    ago or waits on a fetch begun less than the lag limit ago (a loaded broker answering late); a stale replica,
    which neither fetches nor takes anything in, shows only its old commits."""
    now = 100.0
    assert last_progress([(5, 90.0), (7, 95.0)], {}, now, 2.0) == 95.0
    assert last_progress([(7, 95.0)], {"taken_at": 99.6, "applying_since": None}, now, 2.0) == 99.6
    assert last_progress([(7, 95.0)], {"taken_at": 99.4, "applying_since": 99.4}, now, 2.0) == now
    assert last_progress([(7, 95.0)], {"taken_at": 97.0, "applying_since": 97.0}, now, 2.0) == 97.0  # too long
    assert last_progress([(7, 95.0)], {"taken_at": 97.0, "fetching_since": 99.9}, now, 2.0) == now
    assert last_progress([(7, 95.0)], {"taken_at": 97.0, "fetching_since": 97.5}, now, 2.0) == 97.0  # too long
    assert last_progress([], {"taken_at": "x", "applying_since": True, "fetching_since": "y"}, now, 2.0) is None
    assert last_progress([], {}, now, 2.0) is None


def test_a_slow_commit_is_not_a_stopped_replica_but_a_batch_slower_than_the_lag_limit_is_lagging() -> None:
    """Behind 600 ms while applying the batch it took 550 ms ago: not stopped; behind 2.5 s: lagging whatever it
    does; a stale replica (nothing taken since its last commit 3 s ago) is stopped."""
    now = 100.0
    applying = last_progress([(7, 99.0)], {"taken_at": 99.45, "applying_since": 99.45}, now, 2.0)
    assert staleness(0.6, 0.5, applying, now, 2.0) is None
    assert staleness(2.5, 0.5, applying, now, 2.0) == "lagging"
    stale = last_progress([(7, 97.0)], {"taken_at": 97.0, "applying_since": None, "fetching_since": None}, now, 2.0)
    assert staleness(0.6, 0.5, stale, now, 2.0) == "stopped"


def test_a_replica_starved_of_cpu_gets_its_stall_on_top_of_the_allowance() -> None:
    """The loop watch notes how late its ticks come (and an overdue one); the monitor adds that stall, capped at the
    lag limit, to the allowance: behind 600 ms after a 400 ms stall is not stopped, with no stall it is."""
    watch = LoopWatch(interval_s=0.05, keep_s=1.0)
    watch.due = 100.05
    watch.tick(100.05)  # on time
    assert watch.stall_s(100.06) == 0.0
    watch.tick(100.5)  # 400 ms late: the machine did not run this process
    assert watch.stall_s(100.52) == pytest.approx(0.4)
    assert watch.stall_s(101.6) == pytest.approx(1.6 - 0.5 - 0.05)  # no tick since: the current stall counts
    watch.tick(101.62)
    assert watch.stall_s(102.0) == pytest.approx(1.07)  # that long tick, remembered for keep_s
    assert watch.stall_s(102.7) == pytest.approx(1.03)  # both remembered stalls forgotten: the overdue tick counts
    now = 1000.0
    progress = last_progress([(7, 999.3)], {}, now, 2.0)
    stall = loop_stall_s({"loop_stall_ms": 400.0}, 2.0)
    assert staleness(0.6, 0.5 + stall, progress, now, 2.0) is None
    assert staleness(0.6, 0.5 + loop_stall_s({}, 2.0), progress, now, 2.0) == "stopped"
    assert loop_stall_s({"loop_stall_ms": 9e9}, 2.0) == 2.0
    assert loop_stall_s({"loop_stall_ms": True}, 2.0) == 0.0
    assert loop_stall_s({"loop_stall_ms": float("nan")}, 2.0) == 0.0


def test_the_loop_watch_ticks_slowly_on_a_quiet_loop_and_fast_again_once_work_comes() -> None:
    """Quiet (`busy()` false), the next tick is due a second later, and a stall still shows when that tick comes
    late or is overdue; work coming in (`wake()`) brings the next tick within the fast interval, while an overdue
    slow tick is left to tell how late it is."""
    busy = False
    watch = LoopWatch(interval_s=0.05, keep_s=1.0, quiet_interval_s=1.0, busy=lambda: busy)
    watch.due = 100.0
    watch.tick(100.0)
    assert watch.due == pytest.approx(101.0)
    assert watch.stall_s(100.9) == 0.0
    watch.tick(101.4)  # 400 ms late
    assert watch.stall_s(101.45) == pytest.approx(0.4)
    assert watch.stall_s(102.9) == pytest.approx(0.5)  # the next slow tick, due at 102.4, is overdue
    watch.wake(102.9)
    assert watch.due == pytest.approx(102.4)  # overdue: left as it is
    watch.tick(102.9)
    busy = True
    watch.wake(103.0)
    assert watch.due == pytest.approx(103.05)
    watch.tick(103.05)
    assert watch.due == pytest.approx(103.1)  # busy: the fast tick


async def test_a_quiet_loop_watch_wakes_to_the_fast_tick_and_still_sees_a_blocked_loop() -> None:
    """On a quiet loop the watch ticks slowly; `wake()` moves the pending tick forward, and a 300 ms blocking call
    after it shows as a stall of about that long."""
    watch = LoopWatch(interval_s=0.02, keep_s=5.0, quiet_interval_s=30.0, busy=lambda: False)
    task = asyncio.get_running_loop().create_task(watch.run())
    try:
        await asyncio.sleep(0.1)
        assert watch.due - time.monotonic() > 10.0  # on the slow tick
        watch.wake()
        assert watch.due - time.monotonic() <= 0.02
        time.sleep(0.3)  # noqa: ASYNC251 -- the point: the loop is kept from running, as a starved process is
        await asyncio.sleep(0.05)
        assert 0.25 <= watch.stall_s() <= 5.0
    finally:
        task.cancel()


async def test_the_loop_watch_sees_a_blocked_event_loop() -> None:
    """A 300 ms blocking call in the replica's process shows as a stall of about that long."""
    watch = LoopWatch(interval_s=0.02, keep_s=5.0)
    task = asyncio.get_running_loop().create_task(watch.run())
    try:
        await asyncio.sleep(0.1)
        time.sleep(0.3)  # noqa: ASYNC251 -- the point: the loop is kept from running, as a starved process is
        await asyncio.sleep(0.1)
        assert 0.25 <= watch.stall_s() <= 5.0
    finally:
        task.cancel()


def test_a_deadline_already_judged_is_looked_at_again_at_the_fast_interval_not_at_once() -> None:
    """Replica 1 lacks seq 6, applied by replica 2 a second ago: never probed since, it is probed at once; once an
    answer after that deadline judged it (moving, so not stale), the next look waits the fast interval."""
    from faultlab.core.config import Settings
    from faultlab.shop.monitor.health_monitor import HealthMonitor

    settings = Settings(admin_token="t" * 32)  # the lab's token: its error-queue records are sealed with it
    monitor = HealthMonitor(settings, None, "e" * 16)
    now = time.time()
    monitor.frontier.note(2, 6, [(6, now - 1.0)], now - 0.9)
    monitor.trackers[1].applied_seq = 5
    fast = settings.recovery_interval_ms / 1000
    monitor._due[1] = float("inf")
    before = time.monotonic()
    monitor._consider_deadline(1)
    assert before + 0.002 - 1e-6 <= monitor._due[1] <= time.monotonic() + 0.002 + 1e-6
    monitor._answered_at[1] = time.time()
    monitor._due[1] = float("inf")
    before = time.monotonic()
    monitor._consider_deadline(1)
    assert before + fast + 0.002 - 1e-6 <= monitor._due[1] <= time.monotonic() + fast + 0.002 + 1e-6


def test_a_new_process_that_listens_is_probed_at_once() -> None:
    """A replica's `process_start` report (its new process listens) brings its next probe to now, not to the fast
    interval: the recovery count starts with the first answer the new process can give."""
    from faultlab.core.config import Settings
    from faultlab.shop.monitor.health_monitor import HealthMonitor

    monitor = HealthMonitor(Settings(admin_token="t" * 32), None, "e" * 16)
    monitor._due[1] = float("inf")
    monitor.ingest({"replica": 1, "kind": "process_start", "ok": True, "source": "replica", "at": time.time()})
    assert monitor._due[1] <= time.monotonic()
    assert monitor._due[2] == 0.0  # the others keep their own schedule
