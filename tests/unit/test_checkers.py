"""Composition of data-check verdicts (Jepsen style: true, false or unknown)."""

from __future__ import annotations

from faultlab.lab.checkers import compose


def test_false_wins_over_unknown_and_true() -> None:
    """One false check makes the whole verdict false."""
    v = compose({"a": {"valid": True}, "b": {"valid": "unknown"}, "c": {"valid": False}})
    assert v["valid"] is False
    assert set(v["checks"]) == {"a", "b", "c"}


def test_unknown_wins_over_true() -> None:
    """Evidence that could not be read makes an otherwise valid verdict unknown, never true."""
    assert compose({"a": {"valid": True}, "b": {"valid": "unknown"}})["valid"] == "unknown"


def test_all_true_is_true_and_nothing_is_unknown() -> None:
    """All checks true gives true; no checks at all proves nothing."""
    assert compose({"a": {"valid": True}, "b": {"valid": True}})["valid"] is True
    assert compose({})["valid"] == "unknown"
