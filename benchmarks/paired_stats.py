"""The pure parts of the paired benchmark: wrk's output, pinned versions, per-round ratios, targets and the table.

Nothing here starts a process: `benchmarks/paired.py` measures, these functions turn what it measured into figures
(tests/unit/test_paired_stats.py feeds them literal inputs).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

# ---- wrk ------------------------------------------------------------------------------------------------------------

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports: responses, its real duration, non-2xx answers and socket errors."""

    responses: int
    duration_s: float
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        """Responses with a 2xx status (wrk counts 3xx with them; none of the lab's answers here is a 3xx)."""
        return self.responses - self.non_2xx

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def failed(self) -> int:
        """Non-2xx answers plus socket errors (connect, read, write, timeout)."""
        return self.non_2xx + sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkResult:
    """wrk 4's summary (`N requests in 10.00s, ...`, socket errors, non-2xx) as a WrkResult; ValueError if absent."""
    found = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", output)
    if not found:
        raise ValueError(f"no 'N requests in T' line in wrk's output: {output[-300:]!r}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = {}
    if errors:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(responses=int(found.group(1)), duration_s=float(found.group(2)) * _UNITS_S[found.group(3)],
                     non_2xx=int(non_2xx.group(1)) if non_2xx else 0, socket_errors=socket_errors)


# ---- pinned versions ------------------------------------------------------------------------------------------------


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_freeze(freeze: str, exclude: Sequence[str] = ("faultlab",)) -> tuple[dict[str, str], list[str]]:
    """`pip freeze` as {name: version} for the `name==version` lines, minus `exclude`; the lines left out besides
    comments (editable installs, direct URLs) as the second item."""
    pins: dict[str, str] = {}
    skipped: list[str] = []
    excluded = {canonical(n) for n in exclude}
    for raw in freeze.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if not found:
            skipped.append(line)
        elif canonical(found.group(1)) not in excluded:
            pins[canonical(found.group(1))] = found.group(2)
    return pins, skipped


def constraints_text(pins: dict[str, str]) -> str:
    """A pip constraints file (`-c`) pinning each of these versions."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def pin_differences(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """What a ref's environment has that the pins did not decide: another version, or a package the working tree
    does not have (so nothing pinned it)."""
    notes = []
    for name, version in sorted(installed.items()):
        if name not in pins:
            notes.append(f"{name} {version}: not in the working tree's environment (unpinned)")
        elif pins[name] != version:
            notes.append(f"{name} {version}: the working tree pins {pins[name]}")
    return notes


# ---- rounds, ratios, targets ----------------------------------------------------------------------------------------

Round = dict[str, dict[str, float | None]]  # {"A": figures, "B": figures, "calibration": figures}


@dataclass(frozen=True)
class Spread:
    """Median and min–max of a figure over the rounds (None when no round gave it)."""

    median: float | None
    low: float | None
    high: float | None
    count: int

    def text(self, digits: int = 2, suffix: str = "") -> str:
        if self.median is None or self.low is None or self.high is None:
            return "–"
        if self.count == 1:
            return f"{self.median:.{digits}f}{suffix}"
        return f"{self.median:.{digits}f}{suffix} [{self.low:.{digits}f}–{self.high:.{digits}f}]"


def spread(values: Sequence[float | None]) -> Spread:
    """Median and min–max of the values that exist and are finite."""
    kept = [v for v in values if v is not None and math.isfinite(v)]
    if not kept:
        return Spread(None, None, None, 0)
    return Spread(statistics.median(kept), min(kept), max(kept), len(kept))


def quotient(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def ratios(rounds: Sequence[Round], figure: str) -> Spread:
    """B/A of `figure` in each round (A and B measured side by side), as median and min–max over the rounds."""
    return spread([quotient(r["B"].get(figure), r["A"].get(figure)) for r in rounds])


def over_calibration(rounds: Sequence[Round], side: str, figure: str, calibration: str) -> Spread:
    """`side`'s figure over the calibration measured in the same round, as median and min–max over the rounds."""
    return spread([quotient(r[side].get(figure), r["calibration"].get(calibration)) for r in rounds])


def side_values(rounds: Sequence[Round], side: str, figure: str) -> Spread:
    return spread([r[side].get(figure) for r in rounds])


@dataclass(frozen=True)
class Condition:
    """A bound on B's own figure (median over the rounds) that a target also needs, e.g. every replica ≤ 100 ms
    behind."""

    figure: str
    at_most: float | None = None
    at_least: float | None = None
    label: str = ""

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.at_most is None or value <= self.at_most) and (self.at_least is None or value >= self.at_least)


@dataclass(frozen=True)
class Target:
    """A paired target: B/A of a figure (or B over its calibration) against a bound, met by the median over rounds."""

    label: str
    figure: str
    at_most: float | None = None
    at_least: float | None = None
    calibration: str | None = None  # None: B/A; else B's figure over this calibration figure
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Verdict:
    target: Target
    measured: Spread
    met: bool
    notes: tuple[str, ...]


def evaluate(target: Target, rounds: Sequence[Round]) -> Verdict:
    """Met when the median (of B/A, or of B over its calibration) meets the bound and every condition holds on B's
    median; a figure no round gave is not met."""
    measured = (over_calibration(rounds, "B", target.figure, target.calibration) if target.calibration
                else ratios(rounds, target.figure))
    met = measured.median is not None and (
        (target.at_most is None or measured.median <= target.at_most)
        and (target.at_least is None or measured.median >= target.at_least))
    notes = []
    for condition in target.conditions:
        value = side_values(rounds, "B", condition.figure).median
        holds = condition.holds(value)
        met = met and holds
        shown = "–" if value is None else f"{value:.0f}"
        notes.append(f"{condition.label}: {shown} ({'holds' if holds else 'fails'})")
    return Verdict(target, measured, met, tuple(notes))


def process_role(cmdline: Sequence[str]) -> str:
    """What a lab process is, from its command line: a service (`inventory-2`), its warm spare (`spares`), the
    supervisor (`faultlab up`), `broker`, `postgres`, or else its program's name."""
    if not cmdline:
        return "?"
    program = cmdline[0].rsplit("/", 1)[-1]
    if "serve" in cmdline and any(part.endswith("faultlab") for part in cmdline):
        if "--spare" in cmdline:
            return "spares"
        after = list(cmdline[cmdline.index("serve") + 1:])
        service = after[0] if after else "?"
        if "--replica" in after and after.index("--replica") + 1 < len(after):
            service = f"{service}-{after[after.index('--replica') + 1]}"
        return service
    if "up" in cmdline and "faultlab" in cmdline:
        return "supervisor"
    if program.startswith("tansu") or "broker" in cmdline[1:2]:
        return "broker"
    if program.startswith("postgres"):
        return "postgres"
    return program


def replica_lags_ms(samples: Sequence[tuple[float, Sequence[int]]], ended_at: float, final: int) -> list[float | None]:
    """For each replica, milliseconds from `ended_at` (the load stopped) to the first sample showing it had applied
    `final` (the position every replica settled on); None for a replica never seen there."""
    if not samples:
        return []
    lags: list[float | None] = []
    for index in range(len(samples[0][1])):
        first = next((at for at, seqs in samples if seqs[index] >= final), None)
        lags.append(None if first is None else max(0.0, (first - ended_at) * 1000))
    return lags


def settled_position(samples: Sequence[tuple[float, Sequence[int]]], quiet_s: float) -> int | None:
    """The position every replica holds when they all agree and none has moved for `quiet_s`; None before that."""
    if not samples:
        return None
    last_at, last = samples[-1]
    if len(set(last)) != 1:
        return None
    since = last_at
    for at, seqs in reversed(samples):
        if list(seqs) != list(last):
            break
        since = at
    return last[0] if last_at - since >= quiet_s else None
