"""The study guide's KPI table as data, and each measured value rated by it: óptimo, aceptable or crítico.

The guide rates four measures in three bands ("Interpretación de Métricas": TTD, TTR, success rate, p95 latency)
and throughput in two ("Métricas y KPIs": óptimo and crítico only). `KPI_TABLE` holds those bounds with the guide's
own wording, once; `rate` places a value in them. A value past the guide's acceptable bound that is not yet critical
(a TTD of 3000 ms), or between óptimo and crítico where the guide gives no acceptable bound (50 rps), is rated
"between": the guide names no band there, and faultlab does not make one up.

A phase's verdict is a separate thing (its thresholds, `experiment_file.Thresholds`): the rating says where a value
stands on the guide's scale, the verdict whether the phase met what it is held to. A phase judged by another rule
says so (`phase_rule`): a process restart (TTR held to the restart limit), or quorum lost and regained (two-down:
its success rate and p95 are rated, not judged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.lab.report_parts import Record

if TYPE_CHECKING:
    from faultlab.lab.experiment_file import PhaseSpec

Level = Literal["optimal", "acceptable", "between", "critical"]
Better = Literal["lower", "higher"]
Rule = Literal["thresholds", "restart", "quorum"]
LEVELS: tuple[Level, ...] = ("optimal", "acceptable", "between", "critical")


class KpiRow(Record):
    """One measure of the guide's KPI table: which way is better and its bounds (a value strictly past a bound is in
    its band), with the guide's own words."""

    measure: str = Field(description="the report's field it rates: ttd_ms, ttr_ms, success_rate, p95_latency_ms, rps")
    unit: str
    better: Better
    optimal: float = Field(description="óptimo: strictly below (lower is better) or above (higher is better)")
    acceptable: float | None = Field(None, description="aceptable: strictly below / above; null where the guide "
                                                       "gives none")
    critical: float = Field(description="crítico: strictly above (lower is better) or below (higher is better)")
    guide: str = Field(description="the guide's wording (Spanish, as the guide writes it)")
    section: str = Field(description="where the guide says it")


class Rating(Record):
    """A measured value and its band on the guide's scale; `judged` false: the phase's verdict does not hold the
    value to a threshold (two-down's success rate and p95, whose reads fail by design)."""

    measure: str = Field(description="the KPI table's row it was rated by")
    value: float
    level: Level
    judged: bool = True


INTERPRETATION = "Interpretación de Métricas"
KPIS = "Métricas y KPIs"
KPI_TABLE: tuple[KpiRow, ...] = (
    KpiRow(measure="ttd_ms", unit="ms", better="lower", optimal=1000, acceptable=2000, critical=5000,
           guide="TTD (Time to Detect): Valor Óptimo < 1000ms · Valor Aceptable < 2000ms · Valor Crítico > 5000ms",
           section=INTERPRETATION),
    KpiRow(measure="ttr_ms", unit="ms", better="lower", optimal=500, acceptable=1000, critical=2000,
           guide="TTR (Time to Recovery): Valor Óptimo < 500ms · Valor Aceptable < 1000ms · Valor Crítico > 2000ms",
           section=INTERPRETATION),
    KpiRow(measure="success_rate", unit="%", better="higher", optimal=99, acceptable=95, critical=90,
           guide="Success Rate: Valor Óptimo > 99% · Valor Aceptable > 95% · Valor Crítico < 90%",
           section=INTERPRETATION),
    KpiRow(measure="p95_latency_ms", unit="ms", better="lower", optimal=200, acceptable=500, critical=1000,
           guide="P95 Latency: Valor Óptimo < 200ms · Valor Aceptable < 500ms · Valor Crítico > 1000ms",
           section=INTERPRETATION),
    KpiRow(measure="rps", unit="rps", better="higher", optimal=100, acceptable=None, critical=10,
           guide="Throughput (Requests por segundo): Valor Óptimo > 100 RPS · Valor Crítico < 10 RPS",
           section=KPIS),
)
BY_MEASURE = {row.measure: row for row in KPI_TABLE}

# The words each band and measure are said with (the guide's, in Spanish: docs/glossary.md).
LEVEL_WORDS: dict[Level, str] = {"optimal": N_("optimal"), "acceptable": N_("acceptable"),
                                 "critical": N_("critical"), "between": N_("between acceptable and critical")}
BETWEEN_WITHOUT_ACCEPTABLE = N_("between optimal and critical")
MEASURE_WORDS = {"ttd_ms": N_("TTD"), "ttr_ms": N_("TTR"), "success_rate": N_("success rate"),
                 "p95_latency_ms": N_("p95 latency"), "rps": N_("throughput")}
RULE_WORDS: dict[Rule, str] = {
    "thresholds": N_("judged on the guide's acceptable values: TTD < {ttd} ms, TTR < {ttr} ms, success > {success} %, "
                     "p95 < {p95} ms"),
    "restart": N_("a process restarts: judged as the others, but its TTR against the restart limit, {restart} ms"),
    "quorum": N_("judged on losing quorum and regaining it (and its TTR against the restart limit, {restart} ms): "
                 "its reads fail by design, so its success rate and p95 are rated, not judged"),
}


def rate(measure: str, value: float | None) -> Level | None:
    """The band the guide's table puts `value` of `measure` in; None for no value or a measure the table lacks."""
    row = BY_MEASURE.get(measure)
    if row is None or value is None:
        return None
    sign = 1.0 if row.better == "lower" else -1.0  # compare as "lower is better"
    v = sign * value
    if v < sign * row.optimal:
        return "optimal"
    if row.acceptable is not None and v < sign * row.acceptable:
        return "acceptable"
    if v > sign * row.critical:
        return "critical"
    return "between"


def level_word(measure: str, level: Level) -> str:
    """The untranslated word of a band (a message id): "between" says which two bands, as the measure's row has."""
    row = BY_MEASURE.get(measure)
    if level == "between" and row is not None and row.acceptable is None:
        return BETWEEN_WITHOUT_ACCEPTABLE
    return LEVEL_WORDS[level]


def rating(measure: str, value: float | None, judged: bool = True) -> Rating | None:
    level = rate(measure, value)
    return None if level is None or value is None else Rating(measure=measure, value=float(value), level=level,
                                                               judged=judged)


def ratings(values: dict[str, float | None], unjudged: tuple[str, ...] = (),
            fields: dict[str, str] | None = None) -> dict[str, Rating]:
    """Each value the table rates, by the field it is in (`fields`: field → measure, when they differ); values
    that are None are left out."""
    out: dict[str, Rating] = {}
    for field, value in values.items():
        measure = (fields or {}).get(field, field)
        found = rating(measure, value, judged=measure not in unjudged)
        if found is not None:
            out[field] = found
    return out


def phase_rule(phase: PhaseSpec) -> Rule:
    """The rule a phase is judged by."""
    if phase.expect_quorum_loss:
        return "quorum"
    return "restart" if phase.has_fault and phase.restarts_process else "thresholds"


UNJUDGED: dict[Rule, tuple[str, ...]] = {"quorum": ("success_rate", "p95_latency_ms"), "restart": (),
                                         "thresholds": ()}
# the guide's summary fields and the measure each is rated as
SUMMARY_FIELDS = {"avg_ttd_ms": "ttd_ms", "avg_ttr_ms": "ttr_ms", "max_p95_ms": "p95_latency_ms",
                  "min_success_rate": "success_rate"}
