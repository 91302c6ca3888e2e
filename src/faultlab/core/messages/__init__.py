"""Typed messages: one strict pydantic base for every body, file and report, and its errors as sentences with places.

A message is validated by its model and nothing else: no hand-written `isinstance` checks beside it. When it is
refused, every problem is reported at once with its place in the input (`phases[2].fault.latency_ms: must be ≥ 0`)
— the same sentences for an HTTP body (a 400) and for an experiment file (`faultlab experiment --check`), where the
place can also be said the way a reader finds it (`line 7 · phase 3, «latency» · fault.latency_ms`, see `Problem`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema

from faultlab.core import i18n
from faultlab.core.i18n import N_, NP_, Plural

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


class Message(BaseModel):
    """A JSON message or file section: strict types (no "5" for 5, no true for 1), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=False)


class Open(BaseModel):
    """A message that may carry more than its model names (answers from newer services, reports' detail)."""

    model_config = ConfigDict(extra="allow")


# pydantic's error types, said as short sentences (English msgids: the CLI translates them). Each template's fields
# come from the error's context; a plural one takes its form from the number in the field it names.
SENTENCES: dict[str, str | Plural] = {
    "missing": N_("is required"),
    "extra_forbidden": N_("unknown field (known here: {known})"),
    "greater_than_equal": N_("must be ≥ {ge}"),
    "greater_than": N_("must be > {gt}"),
    "less_than_equal": N_("must be ≤ {le}"),
    "less_than": N_("must be < {lt}"),
    "int_type": N_("must be an integer"),
    "int_parsing": N_("must be an integer"),
    "int_from_float": N_("must be an integer"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "finite_number": N_("must be a finite number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "string_type": N_("must be a string"),
    "string_pattern_mismatch": N_("must match {pattern}"),
    "string_too_short": NP_("must have at least {min_length} character", "must have at least {min_length} characters",
                            "min_length"),
    "string_too_long": NP_("must have at most {max_length} character", "must have at most {max_length} characters",
                           "max_length"),
    "list_type": N_("must be a list"),
    "too_short": NP_("must have at least {min_length} item", "must have at least {min_length} items", "min_length"),
    "too_long": NP_("must have at most {max_length} item", "must have at most {max_length} items", "max_length"),
    "dict_type": N_("must be a mapping (an object)"),
    "model_type": N_("must be a mapping (an object)"),
    "model_attributes_type": N_("must be a mapping (an object)"),
    "literal_error": N_("must be one of: {expected}"),
    "enum": N_("must be one of: {expected}"),
    "union_tag_invalid": N_("unknown kind {tag} (known: {expected_tags})"),
    "union_tag_not_found": N_("needs a `{discriminator}` (one of: {expected_tags})"),
    "none_required": N_("must be empty"),
    "set_type": N_("must be a list"),
}


def sentence(code: str, template: str) -> str:
    """Say the custom error `code` (a `PydanticCustomError` a model raises) with `template`, an English msgid whose
    {fields} come from the error's context; returns the code."""
    SENTENCES.setdefault(code, template)
    return code


InputPath = tuple[str | int, ...]  # a place as the input's own keys and indexes: ("phases", 2, "fault", "latency_ms")


@dataclass(frozen=True)
class Problem:
    """One reason a message was refused: where (`phases[2].fault.latency_ms`, "" for the whole input) and what.

    `path` is the same place as the input's keys and indexes; `where` says it for a reader instead, in parts that
    are each an English msgid with its fields (`("line {line}", {"line": 7})`), translated when the problem is said.
    A plural message (`NP_`) takes its form from the number in the parameter it names.
    """

    place: str
    message: str | Plural  # an English template (a msgid) with {fields}, or a singular and a plural one
    params: dict[str, Any] = field(default_factory=dict)
    path: InputPath = ()
    where: tuple[tuple[str, dict[str, Any]], ...] = ()

    def text(self, lang: str | None = None) -> str:
        """The sentence in `lang` (English without one)."""
        gettext, ngettext = (i18n.gettext_for(lang), i18n.ngettext_for(lang)) if lang else (None, None)
        said = _say(self.message, self.params, gettext, ngettext)
        place = (" · ".join(_say(part, fields, gettext, ngettext) for part, fields in self.where) if self.where
                 else self.place)
        return f"{place}: {said}" if place else said

    def located(self, *where: tuple[str, dict[str, Any]]) -> Problem:
        """The same problem, its place said by these parts."""
        return replace(self, where=where)

    def describe(self) -> dict[str, str]:
        return {"place": self.place, "message": self.text()}


def _say(message: str | Plural, params: dict[str, Any], gettext: Gettext | None, ngettext: Ngettext | None) -> str:
    try:
        return i18n.template_of(message, params, gettext, ngettext).format(**params)
    except (KeyError, IndexError, ValueError):
        return i18n.template_of(message, params).format_map(_Lenient(params))


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def path_of(loc: Iterable[str | int], data: Any) -> InputPath:
    """A pydantic location as the input's keys and indexes (("phases", 2, "fault", "latency_ms")).

    Parts that are not in the input (a tagged union's tag, a validator's name) are left out: the place names
    what the author wrote.
    """
    parts: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(part, int) and isinstance(current, list):
            parts.append(part)
            current = current[part] if 0 <= part < len(current) else None
        elif isinstance(current, Mapping) and part in current:
            parts.append(part)
            current = current[part]
        elif isinstance(part, str) and (current is None or isinstance(current, Mapping)) and not _is_tag(part, current):
            parts.append(part)  # a field the input lacks
            current = None
        # otherwise the part is pydantic's own (the union member it chose, a validator's name), not the author's
    return tuple(parts)


def place_text(path: Iterable[str | int]) -> str:
    """A path as one string: `phases[2].fault.latency_ms`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def place_of(loc: Iterable[str | int], data: Any) -> str:
    """A pydantic location as a path into the input (`phases[2].fault.latency_ms`)."""
    return place_text(path_of(loc, data))


def _is_tag(part: str, mapping: Mapping[str, Any] | None) -> bool:
    return "[" in part or (mapping is not None and part in [v for v in mapping.values() if isinstance(v, str)])


def _known(schema: dict[str, Any] | None, loc: tuple[Any, ...]) -> list[str]:
    """The field names a schema allows at the mapping that `loc` (an extra field's location) sits in."""
    if schema is None:
        return []
    defs = schema.get("$defs", {})
    node: dict[str, Any] | None = schema
    for part in loc[:-1]:
        node = _step(_resolve(node, defs), part, defs)
        if node is None:
            return []
    node = _resolve(node, defs)
    return sorted(node.get("properties", {})) if node else []


def _resolve(node: dict[str, Any] | None, defs: dict[str, Any]) -> dict[str, Any] | None:
    while node is not None and "$ref" in node:
        node = defs.get(node["$ref"].split("/")[-1])
    return node


def _step(node: dict[str, Any] | None, part: Any, defs: dict[str, Any]) -> dict[str, Any] | None:
    if node is None:
        return None
    if isinstance(part, int):
        return node.get("items")
    if part in node.get("properties", {}):
        return node["properties"][part]
    for variant in _variants(node, defs):
        kind = (variant.get("properties", {}).get("kind") or {})
        if kind.get("const") == part or part in (kind.get("enum") or []):
            return variant
        if part in variant.get("properties", {}):
            return variant["properties"][part]
    return None


def _variants(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of a union (nested anyOf / oneOf flattened, references resolved)."""
    found = []
    for key in ("oneOf", "anyOf"):
        for variant in node.get(key, []):
            resolved = _resolve(variant, defs) or {}
            found.extend(_variants(resolved, defs) if ("oneOf" in resolved or "anyOf" in resolved) else [resolved])
    return found


def problems(exc: ValidationError, data: Any, schema: dict[str, Any] | None = None) -> list[Problem]:
    """Every error of a validation, as problems with places in `data` (the input as written)."""
    found: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = {k: _said(v) for k, v in (error.get("ctx") or {}).items()}
        kind = error["type"]
        message: str | Plural
        if kind == "value_error":
            message = str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
            ctx = {}
        elif kind == "extra_forbidden":
            known = _known(schema, loc)
            message = SENTENCES[kind] if known else N_("unknown field")
            ctx = {"known": ", ".join(known)}
        elif kind in SENTENCES:
            message = SENTENCES[kind]
        else:
            message = error["msg"][:1].lower() + error["msg"][1:]
        if kind == "missing":
            ctx = {}
        path = path_of(loc, data)
        problem = Problem(place_text(path), message, ctx, path)
        if problem not in found:
            found.append(problem)
    return found


def _said(value: Any) -> Any:
    """A context value as it reads in a sentence: numbers without a needless .0, quotes kept off lists."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.replace("'", "")
    return value


class Refused(ValueError):
    """A message with problems; `str()` says them all, `problems` keeps them apart."""

    def __init__(self, found: list[Problem]) -> None:
        super().__init__("; ".join(p.text() for p in found))
        self.problems = found


def parse(model: type[BaseModel], data: Any, context: dict[str, Any] | None = None) -> Any:
    """`model` validated from `data`; `Refused` with every problem (and its place) otherwise."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise Refused(problems(exc, data, schema_of(model))) from None


@cache
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema (computed once per model)."""
    return model.model_json_schema()


def components(models: Iterable[type[BaseModel]], mode: str = "validation") -> dict[str, Any]:
    """OpenAPI `components.schemas` for these models (and every model they use), each under its class name."""
    _keys, top = models_json_schema([(m, mode) for m in models],  # type: ignore[misc]
                                    ref_template="#/components/schemas/{model}")
    return dict(top.get("$defs", {}))


__all__ = ["Message", "Open", "Problem", "Refused", "components", "parse", "path_of", "place_of", "place_text",
           "problems", "sentence"]
