"""A load sized so that a system's stock lasts the run: where there is no reset, what the load takes is gone for
the next run too, and a product sold out turns every order into a refusal that measures nothing.

The planned run's length (its phases, held and settled, repeated) times the load's expected net drain per request
(orders take, cancels give back, restocks add: `lab/workload.py`'s mix) gives what each product loses; when that is
more than `BUDGET` of the smallest stock, the share of orders is lowered until it is not.
"""

from __future__ import annotations

import math
from typing import Any

from faultlab.lab.experiment_file import Experiment
from faultlab.lab.workload import ORDER_UNITS, RESTOCK_UNITS, mix_shares

BUDGET = 0.25  # at most this share of the smallest stock may be drained by one run, in expectation
FAULT_ALLOWANCE_S = 3.0  # detection, recovery and the wait for a steady system, per fault phase


def planned_s(experiment: Experiment) -> float:
    """Roughly how long the phases keep the load running."""
    load = experiment.load
    per_round = sum(2 * load.settle_s + experiment.hold_s(p) + (FAULT_ALLOWANCE_S if p.has_fault else 0.0)
                    for p in experiment.phases)
    return per_round * experiment.repeat


def net_drain(target: str, order_ratio: float, cancels: bool, restocks: bool) -> float:
    """Units of stock one request of the load takes away in expectation (negative: it adds)."""
    if target == "orders":
        return sum(ORDER_UNITS) / 2
    if target != "mix":
        return 0.0
    shares = mix_shares(order_ratio)
    taken = shares["order"] * sum(ORDER_UNITS) / 2
    returned = shares["cancel"] * sum(ORDER_UNITS) / 2 if cancels else 0.0
    added = shares["restock"] * sum(RESTOCK_UNITS) / 2 if restocks else 0.0
    return taken - returned - added


def size_load(experiment: Experiment, available: dict[str, int], cancels: bool, restocks: bool) -> dict[str, Any]:
    """The share of orders for this run and why: the experiment's own, or lower so the stock lasts."""
    load = experiment.load
    seconds = planned_s(experiment)
    products = max(1, len(available))
    smallest = min(available.values()) if available else 0
    budget = BUDGET * max(0, smallest)

    def drain(ratio: float) -> float:
        return load.rate_rps * seconds * net_drain(load.target, ratio, cancels, restocks) / products

    requested = load.order_ratio
    chosen = requested
    if load.target == "mix" and drain(requested) > budget:
        chosen = 0.0 if budget <= 0 else math.floor(requested * budget / drain(requested) * 1000) / 1000
    sizing: dict[str, Any] = {"planned_s": round(seconds, 1), "requested_order_ratio": requested, "order_ratio": chosen,
              "lowered": chosen < requested, "smallest_stock": smallest, "budget_share": BUDGET,
              "expected_drain_per_product": round(drain(chosen), 1), "cancels": cancels, "restocks": restocks}
    if load.target == "orders" and drain(requested) > budget:
        sizing["warning"] = "an orders-only load may sell the smallest stock out before the run ends"
    return sizing
