"""Majority voting by value at equal positions, how stale an agreed value is, the floor a restarted voter rebuilds,
and robust latency outliers — on literal histories."""

from __future__ import annotations

from faultlab.shop.voter.voting import (
    LONG_AGO_MS,
    latency_outliers,
    majority_of,
    rebuilt_floor,
    staleness_ms,
    superseded_at,
    vote_product,
)


def test_majority_of_three_is_two() -> None:
    """Two of three (and three of five) form a majority."""
    assert majority_of(3) == 2 and majority_of(5) == 3 and majority_of(1) == 1


def test_unanimous_answer() -> None:
    """Three equal answers: quorum, nobody wrong."""
    hist = [(5, 90, 10, 0)]
    vote = vote_product("P", {1: hist, 2: hist, 3: hist}, 3)
    assert vote.quorum and (vote.version, vote.available, vote.reserved) == (5, 90, 10)
    assert vote.agreed == [1, 2, 3] and vote.disagreed == [] and vote.behind == []


def test_wrong_replica_is_outvoted_even_when_it_answers_first() -> None:
    """A replica with a different value at the same version is named wrong; the majority value wins."""
    good = [(4, 95, 5, 0), (5, 90, 10, 0)]
    bad = [(4, 195, 5, 0), (5, 190, 10, 0)]
    vote = vote_product("P", {1: bad, 2: good, 3: good}, 3)
    assert vote.quorum and vote.available == 90
    assert vote.disagreed == [1] and vote.agreed == [2, 3]


def test_replica_behind_is_not_wrong() -> None:
    """A replica at an older version is behind, not wrong; the vote uses the newest shared version."""
    ahead = [(4, 95, 5, 0), (5, 90, 10, 0), (7, 80, 20, 0)]
    also_ahead = [(5, 90, 10, 0), (7, 80, 20, 0)]
    behind = [(4, 95, 5, 0), (5, 90, 10, 0)]
    vote = vote_product("P", {1: behind, 2: ahead, 3: also_ahead}, 3)
    assert vote.quorum and vote.version == 7 and vote.available == 80
    assert vote.behind == [1] and vote.disagreed == []


def test_replicas_at_different_positions_compare_like_with_like() -> None:
    """All three at different versions: the vote is taken at the newest version two of them hold."""
    r1 = [(3, 97, 3, 0), (4, 95, 5, 0)]
    r2 = [(3, 97, 3, 0), (4, 95, 5, 0), (5, 90, 10, 0)]
    r3 = [(3, 97, 3, 0), (4, 95, 5, 0), (5, 90, 10, 0), (6, 88, 12, 0)]
    vote = vote_product("P", {1: r1, 2: r2, 3: r3}, 3)
    assert vote.quorum and vote.version == 5 and vote.available == 90
    assert vote.agreed == [2, 3] and vote.behind == [1]


def test_two_answers_that_disagree_give_no_quorum_and_blame_nobody() -> None:
    """With one replica down and the two others disagreeing, there is no majority and no culprit."""
    vote = vote_product("P", {1: [(5, 190, 10, 0)], 2: [(5, 90, 10, 0)]}, 3)
    assert not vote.quorum
    assert vote.disagreed == [] and vote.conflicting == [1, 2]


def test_single_answer_is_not_a_quorum() -> None:
    """One replica alone can never decide for three."""
    assert not vote_product("P", {1: [(5, 90, 10, 0)]}, 3).quorum


def test_two_wrong_replicas_agreeing_would_win_so_the_guarantee_is_one_fault() -> None:
    """Voting masks one faulty replica of three; two colluding wrong replicas outvote the correct one."""
    vote = vote_product("P", {1: [(5, 1, 1, 0)], 2: [(5, 1, 1, 0)], 3: [(5, 90, 10, 0)]}, 3)
    assert vote.quorum and vote.available == 1 and vote.disagreed == [3]


def test_mean_two_sigma_cannot_flag_one_of_three_but_mad_can() -> None:
    """The reference's |x - mean| > 2 sigma never fires on three values; median/MAD does flag the slow one."""
    values = [1.0, 1.1, 1200.0]
    mean = sum(values) / 3
    sigma = (sum((v - mean) ** 2 for v in values) / 3) ** 0.5
    assert all(abs(v - mean) <= 2 * sigma for v in values)
    samples = {1: [1.0, 1.2, 0.9, 1.1, 1.0] * 4, 2: [1.1, 0.8, 1.3, 1.0, 1.2] * 4, 3: [1200.0, 1210.0, 1190.0] * 4}
    assert latency_outliers(samples) == [3]


def test_similar_latencies_are_not_outliers() -> None:
    """Ordinary jitter flags nobody."""
    samples = {1: [1.0, 2.0, 1.5, 3.0, 1.2] * 4, 2: [1.1, 2.2, 1.4, 2.5, 1.3] * 4, 3: [1.3, 1.9, 2.6, 1.2, 1.4] * 4}
    assert latency_outliers(samples) == []


def test_all_replicas_answering_make_the_majority_version_current() -> None:
    """With every answer in, the newest majority version is current even if one replica is a version ahead."""
    r1 = [(5, 90, 10, 0)]
    r2 = [(5, 90, 10, 0), (6, 88, 12, 0)]
    vote = vote_product("P", {1: r1, 2: r2, 3: r1}, 3)
    assert vote.quorum and vote.version == 5 and not vote.stale
    assert vote.newest_known == 6 and vote.older == [1, 3] and vote.behind == []


def test_a_stale_replica_and_a_missing_one_give_a_stale_vote() -> None:
    """Replica 1 stopped at 0, replica 3 did not answer: only version 0 is shared, and the vote says it is stale."""
    stale = [(0, 100, 0, 0)]
    current = [(0, 100, 0, 0), (3, 97, 3, 0), (5, 95, 5, 0)]
    vote = vote_product("P", {1: stale, 2: current}, 3)
    assert vote.quorum and vote.version == 0 and vote.stale and vote.newest_known == 5
    assert vote.agreed == [1, 2] and vote.older == [1]


def test_a_stale_replica_is_behind_never_agreed_when_the_others_answer() -> None:
    """The issue's case with the third answer in: version 5 of replicas 2 and 3 wins, replica 1 is behind."""
    stale = [(0, 100, 0, 0)]
    current = [(0, 100, 0, 0), (3, 97, 3, 0), (5, 95, 5, 0)]
    vote = vote_product("P", {1: stale, 2: current, 3: current}, 3)
    assert vote.quorum and vote.version == 5 and not vote.stale
    assert vote.agreed == [2, 3] and vote.behind == [1]


# ---- bounded staleness: how long ago a majority may have superseded the agreed value ----------------------------

T = 1_800_000_000_000  # the read began at this moment (ms); versions below are applied relative to it


def test_a_value_superseded_499_ms_ago_is_within_a_500_ms_bound_and_501_is_not() -> None:
    """Stale + hung: replica 1 stopped at 0, replica 2 applied 3 (and 5) — the vote at 0 is as stale as the time
    since replica 2 applied 3, the first version newer than 0 (replica 3, hung, may have applied it first)."""
    for ago in (499, 501):
        stale = [(0, 100, 0, 0)]
        current = [(0, 100, 0, 0), (3, 97, 3, T - ago), (5, 95, 5, T - 10)]
        vote = vote_product("P", {1: stale, 2: current}, 3)
        assert vote.quorum and vote.version == 0 and vote.stale
        assert vote.superseded_at_ms == T - ago and staleness_ms(vote, T) == ago
    assert staleness_ms(vote, T) > 500 >= 499


def test_a_value_two_replicas_hold_now_is_never_stale() -> None:
    """Two answers both at version 5, whenever it was applied: nobody superseded it, staleness 0."""
    hist = [(3, 97, 3, T - 60_000), (5, 95, 5, T - 50_000)]
    vote = vote_product("P", {1: hist, 2: hist}, 3)
    assert vote.version == 5 and vote.superseded_at_ms is None and staleness_ms(vote, T) == 0


def test_with_every_answer_one_replica_ahead_does_not_make_the_majority_stale() -> None:
    """Replica 3 applied 6 long ago but 1 and 2 still hold 5: a majority has not superseded 5, the vote is current;
    the checker's "newest write a majority had applied" is 5 too."""
    hist = [(5, 95, 5, T - 50_000)]
    ahead = [(5, 95, 5, T - 50_000), (6, 94, 6, T - 40_000)]
    vote = vote_product("P", {1: hist, 2: hist, 3: ahead}, 3)
    assert vote.version == 5 and vote.superseded_at_ms is None


def test_two_of_three_superseded_long_ago_is_stale_even_with_every_answer() -> None:
    """Replica 1 (wrong values) and replica 2 applied 6 four seconds ago, replica 3 lags at 5: 2 and 3 agree at 5
    (1 is wrong), but a majority (1 and 2) superseded 5 four seconds ago — stale, even with every answer."""
    wrong = [(5, 195, 5, T - 50_000), (6, 194, 6, T - 4000)]
    ahead = [(5, 95, 5, T - 50_000), (6, 94, 6, T - 4100)]
    lagging = [(5, 95, 5, T - 50_000)]
    vote = vote_product("P", {1: wrong, 2: ahead, 3: lagging}, 3)
    assert vote.version == 5 and vote.agreed == [2, 3] and vote.disagreed == [1]
    assert vote.superseded_at_ms == T - 4000 and staleness_ms(vote, T) == 4000


def test_a_history_that_no_longer_reaches_the_version_counts_as_superseded_long_ago() -> None:
    """A replica whose kept versions all postdate the voted one superseded it at a moment unknown: long ago."""
    assert superseded_at(5, [[(5, 95, 5, T - 10)], [(40, 60, 40, T - 1), (41, 59, 41, T)]], 3) == LONG_AGO_MS
    assert superseded_at(5, [[(5, 95, 5, T - 10)], [(5, 95, 5, T - 10), (6, 94, 6, T - 3), (7, 93, 7, T)]],
                         3) == T - 3
    assert superseded_at(5, [[(5, 95, 5, T - 10)], [(4, 96, 4, T - 20)]], 3) is None  # one behind, one holding it
    assert superseded_at(5, [[(5, 95, 5, T - 10)]], 3) == LONG_AGO_MS  # one answer of three: anything may be


# ---- the floor a voter that remembers nothing rebuilds ----------------------------------------------------------


def test_the_floor_rebuilt_from_a_bare_majority_is_the_newest_of_the_two() -> None:
    """The issue's case after the voter's restart: replica 1 stale at 0, replica 2 at 5, replica 3 hung — 5 was
    answered before (by 2 and 3), so the floor must be 5, and only the newest of the two can promise it."""
    assert rebuilt_floor([0, 5], 3) == 5


def test_with_every_answer_the_floor_is_the_second_newest() -> None:
    """Three answers: any two of them form a majority, which shares a replica with the one that answered before;
    the least newest-of-a-pair is the second newest — one replica far ahead (or lying high) cannot raise it."""
    assert rebuilt_floor([0, 5, 5], 3) == 5
    assert rebuilt_floor([9, 5, 0], 3) == 5
    assert rebuilt_floor([10**9, 5, 5], 3) == 5
    assert rebuilt_floor([0, 0, 5], 3) == 0  # 5 was never held by a majority: it cannot have been answered


def test_fewer_answers_than_a_majority_rebuild_no_floor() -> None:
    """One answer of three says nothing about what a majority held: no floor, no answer."""
    assert rebuilt_floor([5], 3) is None and rebuilt_floor([], 3) is None
    assert rebuilt_floor([7, 3, 5], 5) == 7 and rebuilt_floor([7, 3, 5, 9, 1], 5) == 5


def test_every_version_ever_answered_is_below_the_floor_of_any_majority() -> None:
    """Exhaustively on small cases: whatever a majority held when a version was answered (and replicas only move
    forward), every set of at least a majority of later answers rebuilds a floor at least that version."""
    import itertools

    for before in itertools.product(range(4), repeat=3):
        answered = sorted(before, reverse=True)[1]  # the newest version a majority held: the most it could answer
        for forward in itertools.product(range(3), repeat=3):
            after = [b + f for b, f in zip(before, forward, strict=True)]
            for k in (2, 3):
                for subset in itertools.combinations(after, k):
                    floor = rebuilt_floor(subset, 3)
                    assert floor is not None and floor >= answered, (before, after, subset)


def test_the_voters_moment_is_never_later_than_the_checkers_on_random_histories() -> None:
    """Random honest replicas (each has applied a prefix of the product's versions, at rising moments, and keeps its
    last few): for every version and every set of at least a majority of answers, the moment the voter takes is no
    later than the one the checker measures — the majority-th replica applying the next version (so a read the voter
    answers within the bound is within it by the checker's measure too)."""
    import itertools
    import random

    rng = random.Random(22)
    for _ in range(400):
        versions = sorted(rng.sample(range(1, 60), 12))
        applied = {}
        for r in (1, 2, 3):
            upto = rng.randint(0, len(versions))
            moment = rng.randint(0, 100)
            times = []
            for _v in versions[:upto]:
                moment += rng.randint(1, 50)
                times.append(moment)
            applied[r] = list(zip(versions[:upto], times, strict=True))
        keep = rng.randint(1, 6)
        histories = {r: ([(0, 0, 0, 0)] + [(v, 0, 0, t) for v, t in rows])[-keep:] for r, rows in applied.items()}
        for i, version in enumerate([0, *versions]):
            successor = versions[i] if i < len(versions) else None
            real = sorted(dict(rows).get(successor, 10**9) for rows in applied.values()) if successor else [10**9]
            checker = real[1] if len(real) == 3 else 10**9
            for k in (2, 3):
                for subset in itertools.combinations((1, 2, 3), k):
                    moment = superseded_at(version, [histories[r] for r in subset], 3)
                    assert (moment if moment is not None else 10**9) <= checker, (version, subset, histories)
