"""What the open-loop load sends: the mix of request kinds, the system under test's API as the load reaches it
(`LoadApi`, faultlab's own `ShopApi`) and the seeded `Workload` that builds each next request."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from faultlab.core.config import Settings
from faultlab.lab.load_model import ReadItem, Request

TARGETS = ("orders", "voted", "voted-all", "mix")
ORDER_UNITS = (1, 3)  # quantity of an order: uniform, mean 2
RESTOCK_UNITS = (15, 35)  # quantity of a restock: uniform, mean 25


def mix_shares(order_ratio: float) -> dict[str, float]:
    """Share of each request kind in the mix: orders, cancels of accepted orders, restocks, voted reads.

    Cancels are half the orders and restocks a twentieth (of 15-35 units): per request the orders take 2·o units
    on average, the cancels give back about o and the restocks add 1.25·o, so the stock grows slowly instead of
    running out (restocks go where the load took most: see `Workload`). When those writes would pass 100 %, all
    three shrink in proportion.
    """
    if not 0 <= order_ratio <= 1:
        raise ValueError("order_ratio must be between 0 and 1")
    writes = {"order": order_ratio, "cancel": order_ratio / 2, "restock": order_ratio / 20}
    total = sum(writes.values())
    if total > 1:
        writes = {k: v / total for k, v in writes.items()}
    return {**writes, "read": max(0.0, 1 - sum(writes.values()))}


def expected_flow(order_ratio: float) -> dict[str, float]:
    """Units of stock per request of the mix, in expectation (every product alike): taken by orders, given back by
    cancels (each cancels an accepted order, which reserved stock), added by restocks, and the net."""
    shares = mix_shares(order_ratio)
    order_mean = sum(ORDER_UNITS) / 2
    restock_mean = sum(RESTOCK_UNITS) / 2
    flow = {"taken": shares["order"] * order_mean, "returned": shares["cancel"] * order_mean,
            "restocked": shares["restock"] * restock_mean}
    flow["net"] = flow["returned"] + flow["restocked"] - flow["taken"]
    return flow


class LoadApi(Protocol):
    """How the load reaches a system under test: the requests it sends and what it reads in the answers."""

    products: list[str]
    restocks: bool  # whether the system takes restocks (with the operator's token where it needs one)

    def voted_one(self, product: str) -> Request: ...

    def voted_all(self) -> Request: ...

    def order(self, product: str, quantity: int, key: str) -> Request: ...

    def cancel(self, order_id: str, product: str, quantity: int) -> Request: ...

    def restock(self, product: str, quantity: int, key: str) -> Request: ...

    def order_id(self, data: Any) -> str | None:
        """The new order's id in an accepted order's answer (None when it is not there)."""

    def read_items(self, data: Any) -> list[ReadItem]:
        """The products of a voted answer (KeyError / TypeError when it is not one)."""


class ShopApi:
    """faultlab's shop as the load reaches it: the voter's /inventory/voted, the orders service's /orders, its
    cancels and its restocks (with the operator's token)."""

    def __init__(self, settings: Settings) -> None:
        self.products = sorted(settings.initial_stock)
        self.orders_url = settings.service_url("orders")
        self.voter_url = settings.service_url("voter")
        self.token = settings.admin_token
        self.restocks = bool(self.token)

    def voted_one(self, product: str) -> Request:
        return Request("GET", f"{self.voter_url}/inventory/voted/{product}", product_id=product)

    def voted_all(self) -> Request:
        return Request("GET", f"{self.voter_url}/inventory/voted")

    def order(self, product: str, quantity: int, key: str) -> Request:
        return Request("POST", f"{self.orders_url}/orders",
                       orjson.dumps({"product_id": product, "quantity": quantity}), kind="order",
                       headers={"Idempotency-Key": key}, product_id=product, quantity=quantity, key=key)

    def cancel(self, order_id: str, product: str, quantity: int) -> Request:
        return Request("POST", f"{self.orders_url}/orders/{order_id}/cancel", kind="cancel", product_id=product,
                       quantity=quantity)

    def restock(self, product: str, quantity: int, key: str) -> Request:
        return Request("POST", f"{self.orders_url}/restocks",
                       orjson.dumps({"product_id": product, "quantity": quantity}), kind="restock",
                       headers={"Idempotency-Key": key, "Authorization": f"Bearer {self.token}"},
                       product_id=product, quantity=quantity, key=key)

    def order_id(self, data: Any) -> str | None:
        value = data.get("order_id") if isinstance(data, dict) else None
        return str(value) if value is not None else None

    def read_items(self, data: Any) -> list[ReadItem]:
        return shop_read_items(data)


def shop_read_items(data: Any) -> list[ReadItem]:
    """The products of the shop voter's answer (one product, or `inventory` for all)."""
    items = data["inventory"] if "inventory" in data else [data]  # noqa: SIM401 (a list body has no .get)
    return [ReadItem(str(item["product_id"]), item.get("position"), item.get("available_quantity"),
                     item.get("reserved_quantity"), item.get("stale")) for item in items]


class Workload:
    """Builds the next request of a target (seeded choices, Jepsen's generator) and learns from the answers.

    Orders and restocks carry an Idempotency-Key unique to this run (a random tag, not the seed, so that a
    second run never meets the first run's keys); cancels pick an order this workload had accepted and not
    cancelled yet; restocks go where the system takes them (without, the mix sends reads instead), to the
    product this load has taken the most of (its accepted orders, less its cancels and restocks) — a reorder
    policy, so that no product drifts away on a random walk while the others fill up.
    """

    def __init__(self, api: LoadApi, target: str, seed: int | None = None, order_ratio: float = 0.2) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
        self.api = api
        self.target = target
        self.rng = random.Random(seed)
        self.products = list(api.products)
        self.shares = mix_shares(order_ratio)
        self.tag = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self.cancellable: list[tuple[str, str, int]] = []  # (order id, product, quantity) accepted, not cancelled
        self.taken = dict.fromkeys(self.products, 0)  # units: accepted orders - cancels - restocks, per product

    def __call__(self) -> Request:
        if self.target == "orders":
            return self.order()
        if self.target == "voted":
            return self.voted()
        if self.target == "voted-all":
            return self.api.voted_all()
        u = self.rng.random()
        s = self.shares
        if u < s["order"]:
            return self.order()
        if u < s["order"] + s["cancel"] and self.cancellable:
            return self.cancel()
        if s["order"] + s["cancel"] <= u < s["order"] + s["cancel"] + s["restock"] and self.api.restocks:
            return self.restock()
        return self.voted()

    def _key(self, kind: str) -> str:
        return f"{kind}-{self.tag}-{next(self._numbers)}"

    def voted(self) -> Request:
        return self.api.voted_one(self.rng.choice(self.products))

    def order(self) -> Request:
        product, quantity = self.rng.choice(self.products), self.rng.randint(*ORDER_UNITS)
        request = self.api.order(product, quantity, self._key("order"))

        def accepted(status: int | None, body: bytes) -> None:
            if status not in (200, 201):
                return
            try:
                order_id = self.api.order_id(orjson.loads(body))
            except orjson.JSONDecodeError:
                return
            if order_id is None:
                return
            self.cancellable.append((order_id, product, quantity))
            self.taken[product] += quantity

        request.on_done = accepted
        return request

    def cancel(self) -> Request:
        i = self.rng.randrange(len(self.cancellable))
        self.cancellable[i], self.cancellable[-1] = self.cancellable[-1], self.cancellable[i]
        order_id, product, quantity = self.cancellable.pop()
        self.taken[product] -= quantity
        request = self.api.cancel(order_id, product, quantity)
        request.order_id = order_id
        return request

    def restock(self) -> Request:
        product = max(self.products, key=lambda p: self.taken[p])
        quantity = self.rng.randint(*RESTOCK_UNITS)
        self.taken[product] -= quantity
        return self.api.restock(product, quantity, self._key("restock"))


def request_factory(settings: Settings, target: str, seed: int | None = None,
                    order_ratio: float = 0.2, api: LoadApi | None = None) -> Callable[[], Request]:
    """Builds the next request for a target: orders, voted reads of one product, of all, or the mix (reads,
    orders, cancels and restocks: see `mix_shares`), against `api` (faultlab's shop by default)."""
    return Workload(api or ShopApi(settings), target, seed, order_ratio)
