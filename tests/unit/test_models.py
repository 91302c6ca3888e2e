"""Typed messages: validation errors said as sentences with their place in the input, every one at once."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field

from faultlab.core.messages import Message, Problem, Refused, parse, place_of
from faultlab.core.messages.monitor import ObservationReport
from faultlab.core.messages.orders import NewOrder
from faultlab.core.messages.supervisor import ResetRequest


class Leaf(Message):
    kind: Literal["leaf"] = "leaf"
    size_ms: float = Field(1.0, ge=0)


class Branch(Message):
    kind: Literal["branch"] = "branch"
    count: int = Field(1, ge=1)


class Tree(Message):
    name: str
    parts: list[Annotated[Leaf | Branch, Field(discriminator="kind")]] = Field(default_factory=list)


def texts(model: type[Message], data: object) -> list[str]:
    with pytest.raises(Refused) as refused:
        parse(model, data)
    return [p.text() for p in refused.value.problems]


def test_every_problem_is_reported_with_its_place_in_the_input() -> None:
    """Each error names its path (list indexes in brackets, a union's tag left out) and says what is wrong."""
    data = {"parts": [{"kind": "leaf", "size_ms": -1}, {"kind": "branch", "count": "two"}, {"kind": "stone"},
                      {"kind": "leaf", "colour": "red"}]}
    assert texts(Tree, data) == [
        "name: is required",
        "parts[0].size_ms: must be ≥ 0",
        "parts[1].count: must be an integer",
        "parts[2]: unknown kind stone (known: leaf, branch)",
        "parts[3].colour: unknown field (known here: kind, size_ms)",
    ]


def test_strict_types_refuse_what_lax_parsing_would_convert() -> None:
    """A string for a number, a boolean for an integer and a float with a fraction for an integer are refused."""
    assert texts(Leaf, {"size_ms": "5"}) == ["size_ms: must be a number"]
    assert texts(Branch, {"count": True}) == ["count: must be an integer"]
    assert texts(Branch, {"count": 1.5}) == ["count: must be an integer"]
    assert parse(Leaf, {"size_ms": 5}).size_ms == 5.0  # an integer is a number


def test_a_problem_is_said_in_the_readers_language() -> None:
    """The template is a msgid: said in the reader's language from the catalog, the place stays as written."""
    problem = Problem("phases[2].fault.latency_ms", "must be ≥ {ge}", {"ge": 0})
    assert problem.text() == "phases[2].fault.latency_ms: must be ≥ 0"
    assert problem.text("es") == "phases[2].fault.latency_ms: debe ser ≥ 0"
    assert Problem("", "not YAML: {error}", {"error": "bad"}).text() == "not YAML: bad"


def test_places_skip_what_pydantic_adds_and_keep_what_the_input_lacks() -> None:
    """A union's tag and a validator's name are not places; a missing field is."""
    data = {"phases": [{"fault": {"kind": "latency"}}]}
    assert place_of(("phases", 0, "fault", "latency", "latency_ms"), data) == "phases[0].fault.latency_ms"
    assert place_of(("phases", 0, "name"), data) == "phases[0].name"
    assert place_of(("x", "function-after[check()]", "y"), {"x": {}}) == "x.y"
    assert place_of((), data) == ""


def test_service_bodies_are_their_models() -> None:
    """An order, an observation report and a reset each refuse a bad body with every problem and its place."""
    assert texts(NewOrder, {"product_id": "prod 1", "quantity": "3", "note": 1}) == [
        "product_id: must match ^[A-Z0-9][A-Z0-9_-]{0,31}$", "quantity: must be an integer",
        "note: unknown field (known here: product_id, quantity)"]
    refused = texts(ObservationReport, {"observations": [{"replica": 1, "kind": "health", "at": 0},
                                                         {"replica": 1, "kind": "meteor", "at": 1.0}]})
    assert refused[0] == "observations[0].at: must be > 0"
    assert refused[1].startswith("observations[1].kind: must be one of: ")
    detector, keep = texts(ResetRequest, {"settings": {"detector": "psychic"}, "keep_data": "yes"})
    assert detector.startswith("settings.detector: must be one of: consecutive")  # the detectors Settings knows
    assert keep == "keep_data: must be true or false"
    assert parse(ResetRequest, {}).settings.model_dump(exclude_none=True) == {}
