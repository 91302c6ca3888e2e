"""Majority voting by value at equal positions, and robust latency outliers."""

from __future__ import annotations

from faultlab.shop.voter.voting import latency_outliers, majority_of, vote_product


def test_majority_of_three_is_two() -> None:
    """Two of three (and three of five) form a majority."""
    assert majority_of(3) == 2 and majority_of(5) == 3 and majority_of(1) == 1


def test_unanimous_answer() -> None:
    """Three equal answers: quorum, nobody wrong."""
    hist = [(5, 90, 10)]
    vote = vote_product("P", {1: hist, 2: hist, 3: hist}, 3)
    assert vote.quorum and (vote.version, vote.available, vote.reserved) == (5, 90, 10)
    assert vote.agreed == [1, 2, 3] and vote.disagreed == [] and vote.behind == []


def test_wrong_replica_is_outvoted_even_when_it_answers_first() -> None:
    """A replica with a different value at the same version is named wrong; the majority value wins."""
    good = [(4, 95, 5), (5, 90, 10)]
    bad = [(4, 195, 5), (5, 190, 10)]
    vote = vote_product("P", {1: bad, 2: good, 3: good}, 3)
    assert vote.quorum and vote.available == 90
    assert vote.disagreed == [1] and vote.agreed == [2, 3]


def test_replica_behind_is_not_wrong() -> None:
    """A replica at an older version is behind, not wrong; the vote uses the newest shared version."""
    ahead = [(4, 95, 5), (5, 90, 10), (7, 80, 20)]
    also_ahead = [(5, 90, 10), (7, 80, 20)]
    behind = [(4, 95, 5), (5, 90, 10)]
    vote = vote_product("P", {1: behind, 2: ahead, 3: also_ahead}, 3)
    assert vote.quorum and vote.version == 7 and vote.available == 80
    assert vote.behind == [1] and vote.disagreed == []


def test_replicas_at_different_positions_compare_like_with_like() -> None:
    """All three at different versions: the vote is taken at the newest version two of them hold."""
    r1 = [(3, 97, 3), (4, 95, 5)]
    r2 = [(3, 97, 3), (4, 95, 5), (5, 90, 10)]
    r3 = [(3, 97, 3), (4, 95, 5), (5, 90, 10), (6, 88, 12)]
    vote = vote_product("P", {1: r1, 2: r2, 3: r3}, 3)
    assert vote.quorum and vote.version == 5 and vote.available == 90
    assert vote.agreed == [2, 3] and vote.behind == [1]


def test_two_answers_that_disagree_give_no_quorum_and_blame_nobody() -> None:
    """With one replica down and the two others disagreeing, there is no majority and no culprit."""
    vote = vote_product("P", {1: [(5, 190, 10)], 2: [(5, 90, 10)]}, 3)
    assert not vote.quorum
    assert vote.disagreed == [] and vote.conflicting == [1, 2]


def test_single_answer_is_not_a_quorum() -> None:
    """One replica alone can never decide for three."""
    assert not vote_product("P", {1: [(5, 90, 10)]}, 3).quorum


def test_two_wrong_replicas_agreeing_would_win_so_the_guarantee_is_one_fault() -> None:
    """Voting masks one faulty replica of three; two colluding wrong replicas outvote the correct one."""
    vote = vote_product("P", {1: [(5, 1, 1)], 2: [(5, 1, 1)], 3: [(5, 90, 10)]}, 3)
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
    r1 = [(5, 90, 10)]
    r2 = [(5, 90, 10), (6, 88, 12)]
    vote = vote_product("P", {1: r1, 2: r2, 3: r1}, 3)
    assert vote.quorum and vote.version == 5 and not vote.stale
    assert vote.newest_known == 6 and vote.older == [1, 3] and vote.behind == []


def test_a_stale_replica_and_a_missing_one_give_a_stale_vote() -> None:
    """Replica 1 stopped at 0, replica 3 did not answer: only version 0 is shared, and the vote says it is stale."""
    stale = [(0, 100, 0)]
    current = [(0, 100, 0), (3, 97, 3), (5, 95, 5)]
    vote = vote_product("P", {1: stale, 2: current}, 3)
    assert vote.quorum and vote.version == 0 and vote.stale and vote.newest_known == 5
    assert vote.agreed == [1, 2] and vote.older == [1]


def test_a_stale_replica_is_behind_never_agreed_when_the_others_answer() -> None:
    """The issue's case with the third answer in: version 5 of replicas 2 and 3 wins, replica 1 is behind."""
    stale = [(0, 100, 0)]
    current = [(0, 100, 0), (3, 97, 3), (5, 95, 5)]
    vote = vote_product("P", {1: stale, 2: current, 3: current}, 3)
    assert vote.quorum and vote.version == 5 and not vote.stale
    assert vote.agreed == [2, 3] and vote.behind == [1]
