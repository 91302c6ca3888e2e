"""Where a problem is in an experiment file, said the way its author finds it: the file's line (YAML gives it), the
phase as a person counts it ("phase 2, «crash»"), then the rest of the path (`fault.replicas[0]`).

A problem knows its place as the input's keys and indexes (`Problem.path`). These places are looked up in the file
the experiment came from: its YAML node tree gives each key's and item's line, and its phases give the number and
name. A problem found on the experiment as built (the command line's `--phases` may reorder the file's phases, and
the lab check works on the built experiment) is mapped back into the file by its phase's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from faultlab.core.i18n import N_
from faultlab.core.messages import InputPath, Problem, place_text

LINE = N_("line {line}")
PHASE = N_("phase {n}, «{name}»")
PHASE_UNNAMED = N_("phase {n}")
REST = "{place}"  # the rest of the path, as written in the file: not translated


def lines_of(text: str | bytes, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> dict[InputPath, int]:
    """Each key's and list item's line (1-based) in a YAML (or JSON) text, by its path; empty when it does not parse."""
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return {}
    found: dict[InputPath, int] = {}
    active: set[int] = set()  # nodes on the current path: an alias of an ancestor is not walked again

    def walk(node: yaml.Node, path: InputPath) -> None:
        if id(node) in active:
            return
        active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    found.setdefault((*path, key.value), key.start_mark.line + 1)
                    walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found.setdefault((*path, i), item.start_mark.line + 1)
                walk(item, (*path, i))
        active.discard(id(node))

    if root is not None:
        walk(root, ())
    return found


def phase_names(data: Any) -> tuple[str | None, ...]:
    """The names of a document's phases in order (None where a phase has no name, or not a string)."""
    phases = data.get("phases") if isinstance(data, Mapping) else None
    if not isinstance(phases, list):
        return ()
    return tuple(p.get("name") if isinstance(p, Mapping) and isinstance(p.get("name"), str) else None
                 for p in phases)


@dataclass(frozen=True)
class Places:
    """An experiment file's places: each path's line, and its phases' names in the file's order."""

    lines: Mapping[InputPath, int] = field(default_factory=dict)
    phases: tuple[str | None, ...] = ()

    def line(self, path: InputPath) -> int | None:
        """The line of the deepest part of `path` the file has (a missing field: the line of what holds it)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def locate(self, problem: Problem, names: Sequence[str | None] | None = None,
               lines_outside_phases: bool = True) -> tuple[int | None, Problem]:
        """The problem's line, and the problem with its place said for a reader. `names`: the phases of the
        document the problem's path points into, when it is not the file itself (the experiment as built); its
        phases are found in the file by name. `lines_outside_phases=False` gives no line to a place outside the
        phases (a value the command line may have set)."""
        path = problem.path
        parts: list[tuple[str, dict[str, Any]]] = []
        line: int | None = None
        phase: tuple[str, dict[str, Any]] | None = None
        if len(path) > 1 and path[0] == "phases" and isinstance(path[1], int):
            j = path[1]
            if names is None:
                index: int | None = j
                name = self.phases[j] if j < len(self.phases) else None
            else:
                name = names[j] if j < len(names) else None
                index = self.phases.index(name) if name is not None and name in self.phases else None
            if index is not None:
                line = self.line(("phases", index, *path[2:]))
            number = (index if index is not None else j) + 1  # as a person counts the file's phases
            phase = (PHASE, {"n": number, "name": name}) if name else (PHASE_UNNAMED, {"n": number})
            rest = path[2:]
        else:
            line = self.line(path) if lines_outside_phases else None
            rest = path
        if line is not None:
            parts.append((LINE, {"line": line}))
        if phase is not None:
            parts.append(phase)
        if rest:
            parts.append((REST, {"place": place_text(rest)}))
        return line, (problem.located(*parts) if parts else problem)

    def locate_all(self, problems: Iterable[Problem], names: Sequence[str | None] | None = None,
                   lines_outside_phases: bool = True) -> list[Problem]:
        """Every problem located, in the order of their lines in the file (those without a line first, as found)."""
        located = [self.locate(p, names, lines_outside_phases) for p in problems]
        return [problem for _line, problem in sorted(located, key=lambda pair: pair[0] or 0)]


__all__ = ["Places", "lines_of", "phase_names"]
