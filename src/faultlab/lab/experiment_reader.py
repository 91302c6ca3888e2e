"""Reading an experiment: a YAML or JSON file, or a past run's report.json (the experiment it embeds), into the data or
the validated `Experiment` with its `Source` and its places, every problem at once when it is not valid."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.experiment_places import Places, lines_of, phase_names

# What a file that is not a mapping holds, said in words (never a Python type's name).
NOT_A_MAPPING = {
    type(None): N_("the file is empty: an experiment file is a mapping (phases:, load:, ...)"),
    list: N_("an experiment file is a mapping (phases:, load:, ...), not a list"),
    str: N_("an experiment file is a mapping (phases:, load:, ...), not a line of text"),
    int: N_("an experiment file is a mapping (phases:, load:, ...), not a number"),
    float: N_("an experiment file is a mapping (phases:, load:, ...), not a number"),
    bool: N_("an experiment file is a mapping (phases:, load:, ...), not true or false"),
    object: N_("an experiment file is a mapping (phases:, load:, ...)"),
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML would keep the last one silently)."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", mark)
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class Source(BaseModel):
    """Where an experiment came from: a file (its path and digest), a past run's report.json, or the built-in one."""

    path: str | None = None
    sha256: str | None = None
    from_report: str | None = None  # the run id of the report it was read from
    # the experiment as the file (or the guide's) has it, before the command line's options: a shorter run says so
    title: str | None = None
    phases: list[str] | None = None
    repeat: int | None = None

    def scoped(self, base: Experiment) -> Source:
        """This source with the title, phases and repetitions of `base`, the experiment it defines."""
        return self.model_copy(update={"title": base.title or None, "phases": [p.name for p in base.phases],
                                       "repeat": base.repeat})


class ExperimentRefused(Refused):
    """An experiment document that is not valid (a file, or one built from a file and the command line's options):
    its problems located by its places, and, kept apart, the problems as found, its data and its places."""

    def __init__(self, found: list[Problem], data: Any, places: Places) -> None:
        super().__init__(places.locate_all(found))
        self.found = found
        self.data = data
        self.places = places


def read_data(path: Path) -> tuple[Any, Source]:
    """The data of an experiment file (YAML or JSON) or of a report.json (its embedded experiment)."""
    data, source, _places = _read(path)
    return data, source


def _read(path: Path) -> tuple[Any, Source, Places]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Refused([Problem("", N_("cannot read {path}: {error}"),
                               {"path": str(path), "error": exc.strerror or type(exc).__name__})]) from None
    source = Source(path=str(path), sha256=hashlib.sha256(raw).hexdigest())
    try:
        data = json.loads(raw) if path.suffix == ".json" else yaml.load(raw, Loader=_UniqueKeyLoader)
    except json.JSONDecodeError as exc:
        raise Refused([Problem(f"{exc.lineno}:{exc.colno}", N_("not JSON: {error}"),
                               {"error": exc.msg})]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        place = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""  # line:column, as compilers say
        what = getattr(exc, "problem", None) or str(exc)
        raise Refused([Problem(place, N_("not YAML: {error}"), {"error": what})]) from None
    if isinstance(data, dict) and "experiment_info" in data:  # a run's report.json: the experiment it embeds
        info = data.get("experiment_info") or {}
        embedded = info.get("experiment") if isinstance(info, dict) else None
        if not isinstance(embedded, dict):
            raise Refused([Problem("experiment_info.experiment", N_(
                "this report.json embeds no experiment (a run from before experiments were embedded)"))])
        source = Source(path=str(path), sha256=source.sha256, from_report=str(info.get("run_id")))
        return embedded, source, Places(phases=phase_names(embedded))  # its lines are the report's, not its own
    if not isinstance(data, dict):
        raise Refused([Problem("", NOT_A_MAPPING.get(type(data), NOT_A_MAPPING[object]))])
    return data, source, Places(lines_of(raw, _UniqueKeyLoader), phase_names(data))


def read_experiment(path: Path) -> tuple[Experiment, Source, Places]:
    """An experiment file (YAML or JSON) or a past run's report.json, validated whole, with its places; `Refused`
    (an `ExperimentRefused` once the file is read) lists every problem with its line and phase."""
    data, source, places = _read(path)
    try:
        experiment: Experiment = parse(Experiment, data)
    except Refused as exc:
        raise ExperimentRefused(exc.problems, data, places) from None
    return experiment, source, places


def load_experiment(path: Path) -> tuple[Experiment, Source]:
    """An experiment file (YAML or JSON) or a past run's report.json, validated whole; `Refused` lists every
    problem with its place in the file."""
    experiment, source, _places = read_experiment(path)
    return experiment, source
