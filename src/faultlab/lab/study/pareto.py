"""The Pareto front of detector settings (fewer false alarms, faster detection) and the pick for a false-alarm
budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from faultlab.lab.study.replay import FAULT_FREE

T = TypeVar("T")
# At most one readmission of the faulty replica per fault: the fastest settings flap ~20 times per intermittent
# fault (each time the voter must out-vote it again); the guide's rule ~6.
DEFAULT_FLAP_BUDGET = 1.0


def pareto_front(points: Sequence[T], key: Callable[[T], tuple[float | None, float | None]]) -> list[T]:
    """The points no other point dominates, minimising both coordinates; a point with a missing coordinate (a TTD
    p95 that is infinite because of misses) is never on the front. Equal points are all on it."""
    present = [(p, key(p)) for p in points]
    valid = [(p, (float(x), float(y))) for p, (x, y) in present if x is not None and y is not None]
    front = []
    for p, (x, y) in valid:
        dominated = any(ox <= x and oy <= y and (ox < x or oy < y) for _q, (ox, oy) in valid)
        if not dominated:
            front.append(p)
    return front


def flaps_per_fault(result: dict[str, Any], kinds: list[str]) -> float:
    """Times the faulty replica was let back in while its fault lasted, per fault, on the kind where that is most
    (0 when nothing was judged): a replica readmitted to the vote while still faulty is the study's other mistake."""
    rates = [t["flaps"] / t["n"] for k in kinds if (t := result["ttd"].get(k)) and t.get("n")]
    return max(rates, default=0.0)


def flap_budget_of(study: dict[str, Any]) -> float:
    """The study's flap budget (a study.json written before there was one: the default)."""
    value = study.get("flap_budget")
    return DEFAULT_FLAP_BUDGET if value is None else float(value)


def recommend(results: list[dict[str, Any]], budget_per_hour: float, focus: str,
              kinds: list[str], flap_budget: float = DEFAULT_FLAP_BUDGET) -> dict[str, Any] | None:
    """Among settings within the false-alarm budget (false OFFs per hour over every fault-free stretch together),
    within the flap budget (flaps per fault on any kind: `flaps_per_fault`) and missing no fault, the one with the
    lowest TTD p95 on `focus`; ties go to fewer false OFFs (so the pick is on the front of `focus`), then fewer
    flaps during faults, then the lower sum of the other kinds' TTD p95."""
    def within(r: dict[str, Any]) -> bool:
        rate = r["mistakes"].get(FAULT_FREE, {}).get("per_hour")
        complete = all(r["ttd"][k]["p95_ms"] is not None for k in kinds if k in r["ttd"])
        return (complete and rate is not None and rate <= budget_per_hour
                and flaps_per_fault(r, kinds) <= flap_budget)

    candidates = [r for r in results if within(r)]
    if not candidates:
        return None

    def rank(r: dict[str, Any]) -> tuple[float, float, int, float, str]:
        focus_p95 = r["ttd"].get(focus, {}).get("p95_ms")
        rate = r["mistakes"].get(FAULT_FREE, {}).get("per_hour") or 0.0
        flaps = sum(r["ttd"][k]["flaps"] for k in kinds if k in r["ttd"])
        others = sum(r["ttd"][k]["p95_ms"] for k in kinds if k in r["ttd"] and k != focus)
        return (focus_p95 if focus_p95 is not None else 0.0, rate, flaps, others, r["setting"]["label"])

    return min(candidates, key=rank)
