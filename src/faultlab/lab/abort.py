"""Abort conditions (as AWS FIS stop conditions): the run stops and rolls back when a load figure stays on the wrong
side of a limit for as long as the condition says, second after second."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

from faultlab.core.said import Said
from faultlab.lab.experiment_file import AbortCondition
from faultlab.lab.recorder import LoadStats


def value_of(stats: LoadStats, metric: str) -> float | None:
    """One second's figure: success rate (%) or p95 latency (ms); None for a second without completed requests."""
    if not stats.requests:
        return None
    if metric == "success_rate":
        return stats.success_rate
    return float(stats.latency.summary()["p95"])


def breached(condition: AbortCondition, seconds: Mapping[int, LoadStats], now: float) -> bool:
    """Whether each of the last `for_s` whole seconds before `now` (the current one is not over) breaks the limit."""
    wanted = [int(now) - 1 - k for k in range(max(1, math.ceil(condition.for_s)))]
    for second in wanted:
        stats = seconds.get(second)
        value = value_of(stats, condition.metric) if stats is not None else None
        if value is None:
            return False
        if condition.below is not None and not value < condition.below:
            return False
        if condition.above is not None and not value > condition.above:
            return False
    return True


class AbortWatch:
    """Checks the conditions twice a second; calls `on_abort(reason)` once, when the first one holds."""

    def __init__(self, conditions: list[AbortCondition], seconds: Mapping[int, LoadStats],
                 on_abort: Callable[[Said], None], period_s: float = 0.5) -> None:
        self.conditions = conditions
        self.seconds = seconds
        self.on_abort = on_abort
        self.period_s = period_s
        self.reason: Said | None = None

    def check(self, now: float | None = None) -> Said | None:
        at = time.time() if now is None else now
        for condition in self.conditions:
            if breached(condition, self.seconds, at):
                return condition.describe()
        return None

    async def run(self) -> None:
        while self.conditions and self.reason is None:
            await asyncio.sleep(self.period_s)
            reason = self.check()
            if reason is not None:
                self.reason = reason
                self.on_abort(reason)
