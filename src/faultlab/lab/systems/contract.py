"""The study guide's contract as the lab reads it: the model (`SystemContract`, every default the guide's), a system
file, and how a guide system's answers read — JSON paths, body templates, instance ids, status words, products.

The model itself is in `core/messages/system.py` (an experiment file embeds it as its `system` section); everything
here is pure: tested on literal answers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultlab.core.i18n import N_, NP_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.core.messages.system import (
    GUIDE_KINDS,
    GUIDE_PARAMS,
    GUIDE_PRODUCTS,
    MonitorContract,
    ProductFields,
    SystemContract,
    recorded_headers,
)
from faultlab.lab.experiment_check import LabFacts
from faultlab.lab.experiment_reader import read_data

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TRAILING_NUMBERS = re.compile(r"(\d+)(?:[-_](\d+))?$")
MISSING_VALUE = object()


def guide_contract(**overrides: Any) -> SystemContract:
    """The guide's contract with these settings changed (`Refused` with every problem otherwise)."""
    contract: SystemContract = parse(SystemContract, {"kind": "guide", **overrides})
    return contract


def load_system(path: Path) -> SystemContract:
    """A system file (YAML or JSON): the contract's settings, or an experiment file whose `system` section names
    one. `Refused` with every problem and its place in the file."""
    data, _source = read_data(path)
    if "phases" in data or "system" in data:  # an experiment file (or a run's report.json): its system section
        section = data.get("system")
        if section is None:
            raise Refused([Problem("system", N_("this experiment file names no system (give system: guide, or a "
                                                "mapping of the guide settings that differ)"))])
        try:
            found: SystemContract = parse(SystemContract, section)
            return found
        except Refused as exc:
            raise Refused([Problem(f"system.{p.place}" if p.place else "system", p.message, p.params)
                           for p in exc.problems]) from None
    contract: SystemContract = parse(SystemContract, data)
    return contract


def facts_of(contract: SystemContract) -> LabFacts:
    """What an experiment is checked against on this system: its replicas and products; no network namespaces."""
    return LabFacts(tuple(range(1, len(contract.replicas.urls) + 1)), tuple(contract.products), netns=False)


# ---- reading answers --------------------------------------------------------------------------------------------


def pick(data: Any, path: str, default: Any = None) -> Any:
    """The value at a JSON path (`a.b[0].c`; "" is `data` itself), `default` where the answer has none."""
    current = data
    for name, index in _PART.findall(path):
        if name:
            if not isinstance(current, dict) or name not in current:
                return default
            current = current[name]
        else:
            i = int(index)
            if not isinstance(current, list) or i >= len(current):
                return default
            current = current[i]
    return current


def find_path(data: Any, field: str, depth: int = 4) -> str | None:
    """Where in an answer a list (or mapping) of rows carrying `field` is: a suggestion for a setting the answer
    does not match (None when there is none)."""
    if isinstance(data, list) and data and all(isinstance(r, dict) and field in r for r in data[:5]):
        return ""
    if isinstance(data, dict) and depth > 0:
        for key, value in data.items():
            found = find_path(value, field, depth - 1)
            if found is not None and re.fullmatch(r"[^.\s\[\]]+", str(key)):
                return f"{key}.{found}" if found else str(key)
    return None


def fill(template: Any, values: dict[str, Any]) -> Any:
    """A body template with its `{name}` fields filled: a string that is one field alone takes the value as it is
    (a number stays a number), a longer string takes it as text; mappings and lists are filled throughout."""
    if isinstance(template, dict):
        return {fill(k, values): fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)
    return template


def expand_headers(headers: dict[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """The headers with `${VAR}` taken from the environment; `Refused` naming a variable that is not set."""
    env = os.environ if environ is None else environ
    unset = sorted({name for value in headers.values() for name in _VAR.findall(value) if name not in env})
    if unset:
        raise Refused([Problem("system.headers", NP_("environment variable not set: {names}",
                                                     "environment variables not set: {names}", "count"),
                               {"names": ", ".join(unset), "count": len(unset)})])
    return {name: _VAR.sub(lambda m: env[m.group(1)], value) for name, value in headers.items()}


def replica_of(instance_id: Any, monitor: MonitorContract, replicas: int) -> int | None:
    """The replica an instance id names: the mapping's, else the number it ends in (`"1"`, `"inventory-svc-1"`, and
    compose's `"inventory-svc-1-1"` — service 1, container 1 — are all replica 1); None when it names none."""
    if isinstance(instance_id, bool):
        return None
    text = str(instance_id)
    if text in monitor.instances:
        number: int | None = monitor.instances[text]
    elif isinstance(instance_id, int):
        number = instance_id
    else:
        match = _TRAILING_NUMBERS.search(text)
        number = None if match is None else int(match.group(1))
    return number if number is not None and 1 <= number <= replicas else None


def status_word(value: Any, monitor: MonitorContract) -> str:
    """A row's status in the monitor's words, as ON, OFF or UNKNOWN (any other word; true is ON, false OFF)."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    text = str(value).strip().casefold() if value is not None else ""
    if text in {w.casefold() for w in monitor.on_words}:
        return "ON"
    if text in {w.casefold() for w in monitor.off_words}:
        return "OFF"
    return "UNKNOWN"


def rows_of(data: Any, path: str, key_field: str) -> list[tuple[Any, Any]]:
    """(key, row) for each row at `path`: a list of mappings keyed by `key_field`, or a mapping keyed by its ids
    (a row may then be a bare value)."""
    found = pick(data, path)
    if isinstance(found, list):
        return [(row.get(key_field), row) for row in found if isinstance(row, dict)]
    if isinstance(found, dict):
        return list(found.items())
    return []


def monitor_states(data: Any, monitor: MonitorContract, replicas: int) -> dict[int, dict[str, Any]]:
    """Each replica's row of the monitor's status answer: {replica: {"status": ON/OFF/UNKNOWN, "word", "id"}}."""
    states: dict[int, dict[str, Any]] = {}
    for key, row in rows_of(data, monitor.rows_path, monitor.instance_field):
        if isinstance(row, dict) and monitor.service_field and monitor.service_name:
            service = row.get(monitor.service_field)
            if service is not None and monitor.service_name not in str(service):
                continue
        replica = replica_of(key, monitor, replicas)
        if replica is None:
            continue
        word = pick(row, monitor.status_field, MISSING_VALUE) if isinstance(row, dict) else row
        states[replica] = {"status": status_word(None if word is MISSING_VALUE else word, monitor),
                           "word": None if word is MISSING_VALUE else word, "id": key}
    return states


@dataclass(frozen=True, slots=True)
class Product:
    """One product as an answer gives it (None where the answer lacks the field)."""

    product_id: str
    available: int | None
    reserved: int | None = None
    position: int | None = None


def _number(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def products_of(data: Any, path: str, fields: ProductFields) -> dict[str, Product]:
    """The products of an inventory answer (a replica's or the voter's), by id: rows carrying `fields.product`, or a
    mapping keyed by product id whose values are rows or bare available quantities."""
    found: dict[str, Product] = {}
    for key, row in rows_of(data, path, fields.product):
        if key is None:
            continue
        if isinstance(row, dict):
            found[str(key)] = Product(str(key), _number(pick(row, fields.available)),
                                      _number(pick(row, fields.reserved)) if fields.reserved else None,
                                      _number(pick(row, fields.position)) if fields.position else None)
        else:
            found[str(key)] = Product(str(key), _number(row))
    return found


def described(contract: SystemContract) -> dict[str, Any]:
    """The contract as a report keeps it: every setting, a header's secret value never."""
    data = contract.model_dump(mode="json")
    data["headers"] = recorded_headers(contract.headers)
    if contract.proxy.token is not None:
        data["proxy"]["token"] = recorded_headers({"token": contract.proxy.token})["token"]
    return data


__all__ = ["GUIDE_KINDS", "GUIDE_PARAMS", "GUIDE_PRODUCTS", "Product", "SystemContract", "described",
           "expand_headers", "facts_of", "fill", "find_path", "guide_contract", "load_system", "monitor_states", "pick",
           "products_of", "replica_of", "rows_of", "status_word"]
