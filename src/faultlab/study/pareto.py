"""The Pareto front of detector settings (fewer false alarms, faster detection) and the pick for a false-alarm
budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


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


def recommend(results: list[dict[str, Any]], budget_per_hour: float, focus: str,
              kinds: list[str]) -> dict[str, Any] | None:
    """Among settings within the false-alarm budget on both fault-free stretches (and missing no fault), the one with
    the lowest TTD p95 on `focus`, then the lowest sum of the other kinds' TTD p95, then the fewest mistakes."""
    def within(r: dict[str, Any]) -> bool:
        rates = [r["mistakes"][s]["per_hour"] for s in ("quiet", "noisy") if s in r["mistakes"]]
        complete = all(r["ttd"][k]["p95_ms"] is not None for k in kinds if k in r["ttd"])
        return complete and all(rate is not None and rate <= budget_per_hour for rate in rates)

    candidates = [r for r in results if within(r)]
    if not candidates:
        return None

    def rank(r: dict[str, Any]) -> tuple[float, float, float, str]:
        focus_p95 = r["ttd"].get(focus, {}).get("p95_ms")
        others = sum(r["ttd"][k]["p95_ms"] for k in kinds if k in r["ttd"] and k != focus)
        noisy = r["mistakes"].get("noisy", {}).get("per_hour") or 0.0
        return (focus_p95 if focus_p95 is not None else 0.0, others, noisy, r["setting"]["label"])

    return min(candidates, key=rank)
