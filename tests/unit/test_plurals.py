"""A message counted by a number or a list says its singular for one and its plural otherwise, in English and in
Spanish, never "(s)": unset environment variables, unknown phases and fault kinds, pydantic's length limits, and the
recorded sentences of the API checks."""

from __future__ import annotations

import pytest
from pydantic import Field

from faultlab.core.messages import Message, Refused, parse
from faultlab.core.said import codes_for, render, say
from faultlab.lab.phases import select_phases
from faultlab.lab.study.runner import StudyConfig
from faultlab.lab.systems.contract import expand_headers
from tests.unit.test_spanish import spanish


def refusal(refused: pytest.ExceptionInfo[Refused]) -> tuple[str, str]:
    """A refusal's one problem in English and in Spanish."""
    [problem] = refused.value.problems
    return problem.text(), problem.text("es")


def test_unset_environment_variables_are_counted() -> None:
    """One unset variable in a header is "environment variable" ("variable de entorno"), two are plural."""
    with pytest.raises(Refused) as one:
        expand_headers({"A": "${NOPE} ${T}"}, {"T": "x"})
    with pytest.raises(Refused) as two:
        expand_headers({"A": "${NOPE}", "B": "Bearer ${ALSO}"}, {})
    assert refusal(one) == ("system.headers: environment variable not set: NOPE",
                            "system.headers: variable de entorno sin definir: NOPE")
    assert refusal(two) == ("system.headers: environment variables not set: ALSO, NOPE",
                            "system.headers: variables de entorno sin definir: ALSO, NOPE")


def test_unknown_phases_are_counted() -> None:
    """One unknown phase name is "unknown phase" ("fase desconocida"), two are "unknown phases" ("fases
    desconocidas"); both list the known ones."""
    with pytest.raises(Refused) as one:
        select_phases("crash,meteor")
    with pytest.raises(Refused) as two:
        select_phases("meteor,crash,comet")
    english, spanish_text = refusal(one)
    assert english.startswith("--phases: unknown phase meteor; known: baseline, crash, ")
    assert spanish_text.startswith("--phases: fase desconocida meteor; conocidas: baseline, crash, ")
    english, spanish_text = refusal(two)
    assert english.startswith("--phases: unknown phases meteor, comet; known: baseline, crash, ")
    assert spanish_text.startswith("--phases: fases desconocidas meteor, comet; conocidas: baseline, crash, ")


def test_unknown_fault_kinds_of_the_study_are_counted() -> None:
    """The detector study refuses one unknown kind in the singular and two in the plural, in the active language."""
    with pytest.raises(ValueError, match=r"^unknown fault kind meteor; known: crash, "):
        StudyConfig(kinds=["crash", "meteor"])
    with pytest.raises(ValueError, match=r"^unknown fault kinds meteor, comet; known: crash, "):
        StudyConfig(kinds=["meteor", "comet"])
    with spanish():
        with pytest.raises(ValueError, match=r"^tipo de fallo desconocido meteor; conocidos: crash, "):
            StudyConfig(kinds=["meteor"])
        with pytest.raises(ValueError, match=r"^tipos de fallo desconocidos meteor, comet; conocidos: crash, "):
            StudyConfig(kinds=["meteor", "comet"])


class Limits(Message):
    """Lengths limited to one and to two, as a message's fields."""

    one_item: list[int] = Field(min_length=1)
    two_items: list[int] = Field(min_length=2)
    at_most_one_item: list[int] = Field(max_length=1)
    one_character: str = Field(min_length=1)
    two_characters: str = Field(min_length=2)
    at_most_two_characters: str = Field(max_length=2)


def test_length_limits_take_their_number_from_pydantic() -> None:
    """pydantic's min_length / max_length reach the sentence as its count: "at least 1 item", "at least 2 items",
    "al menos 1 carácter", "como mucho 2 caracteres"."""
    with pytest.raises(Refused) as refused:
        parse(Limits, {"one_item": [], "two_items": [1], "at_most_one_item": [1, 2], "one_character": "",
                       "two_characters": "a", "at_most_two_characters": "abc"})
    said = {p.place: (p.text(), p.text("es")) for p in refused.value.problems}
    assert said == {
        "one_item": ("one_item: must have at least 1 item", "one_item: debe tener al menos 1 elemento"),
        "two_items": ("two_items: must have at least 2 items", "two_items: debe tener al menos 2 elementos"),
        "at_most_one_item": ("at_most_one_item: must have at most 1 item",
                             "at_most_one_item: debe tener como mucho 1 elemento"),
        "one_character": ("one_character: must have at least 1 character",
                          "one_character: debe tener al menos 1 carácter"),
        "two_characters": ("two_characters: must have at least 2 characters",
                           "two_characters: debe tener al menos 2 caracteres"),
        "at_most_two_characters": ("at_most_two_characters: must have at most 2 characters",
                                   "at_most_two_characters: debe tener como mucho 2 caracteres"),
    }


def test_recorded_sentences_of_the_api_checks_are_counted() -> None:
    """Replicas that still differ on one product or on two, and one shared table seen on one product or on two, are
    said with the right number in both languages, on the pages too (the pages' scripts get both forms)."""
    differ_one = say("not_converged", seconds=30.0, rounds=1, count=1)
    differ_two = say("not_converged", seconds=30.0, rounds=3, count=2)
    assert differ_one["text"] == "30 s after the load stopped, on read number 1, the replicas still differ on 1 product"
    assert render(differ_two, "en").endswith("on read number 3, the replicas still differ on 2 products")
    assert render(differ_one, "es") == ("30 s después de detenerse la carga, en la lectura número 1, las réplicas "
                                        "siguen difiriendo en 1 producto")
    assert render(differ_two, "es").endswith("siguen difiriendo en 2 productos")
    shared_one, shared_two = say("shared_table", factor=3, count=1), say("shared_table", factor=3, count=2)
    assert shared_one["text"].startswith("every order is reserved 3 times over (1 product): likely 3 replicas")
    assert render(shared_two, "en").startswith("every order is reserved 3 times over (2 products): ")
    assert render(shared_one, "es").startswith("cada orden se reserva 3 veces (1 producto): probablemente 3 réplicas")
    assert render(shared_two, "es").startswith("cada orden se reserva 3 veces (2 productos): ")
    singular, plural, counted = codes_for("es")["shared_table"]
    assert "(1 producto)" in singular.format(factor=3, count=1) and "(2 productos)" in plural.format(factor=3, count=2)
    assert counted == "count"
    assert not any("(s)" in render(s, lang) for s in (differ_one, differ_two, shared_one, shared_two)
                   for lang in ("en", "es"))
