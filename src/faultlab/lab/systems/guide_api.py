"""A guide system as the load reaches it (`LoadApi`): the voter's voted reads, orders, cancels and, where the system
has them, restocks — each request built from the contract, each answer read through it."""

from __future__ import annotations

from typing import Any

import orjson

from faultlab.core.messages.system import SystemContract
from faultlab.lab.load import ReadItem, Request
from faultlab.lab.systems.contract import fill, pick, products_of


class GuideApi:
    """The load's requests to a system built to the guide's contract (with its headers on every one)."""

    def __init__(self, contract: SystemContract, headers: dict[str, str]) -> None:
        self.contract = contract
        self.headers = headers
        self.products = list(contract.products)
        self.restocks = contract.orders.restock_path is not None

    def _headers(self, key: str | None = None) -> dict[str, str] | None:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers or None

    def voted_one(self, product: str) -> Request:
        voter = self.contract.voter
        if voter.voted_one_path is None:  # the guide's voter answers every product at once
            return Request("GET", voter.url + voter.voted_path, headers=self._headers())
        path = fill(voter.voted_one_path, {"product_id": product})
        return Request("GET", voter.url + path, headers=self._headers(), product_id=product)

    def voted_all(self) -> Request:
        voter = self.contract.voter
        return Request("GET", voter.url + voter.voted_path, headers=self._headers())

    def order(self, product: str, quantity: int, key: str) -> Request:
        orders = self.contract.orders
        body = fill(orders.order_body, {"product_id": product, "quantity": quantity, "key": key})
        return Request("POST", orders.url + orders.create_path, orjson.dumps(body), kind="order",
                       headers=self._headers(key), product_id=product, quantity=quantity, key=key)

    def cancel(self, order_id: str, product: str, quantity: int) -> Request:
        orders = self.contract.orders
        return Request(orders.cancel_method, orders.url + fill(orders.cancel_path, {"id": order_id}), kind="cancel",
                       headers=self._headers(), product_id=product, quantity=quantity)

    def restock(self, product: str, quantity: int, key: str) -> Request:
        orders = self.contract.orders
        assert orders.restock_path is not None, "the workload sends restocks only where the system takes them"
        body = fill(orders.restock_body, {"product_id": product, "quantity": quantity, "key": key})
        return Request("POST", orders.url + orders.restock_path, orjson.dumps(body), kind="restock",
                       headers=self._headers(key), product_id=product, quantity=quantity, key=key)

    def order_id(self, data: Any) -> str | None:
        value = pick(data, self.contract.orders.order_id_path)
        return None if value is None or isinstance(value, (dict, list)) else str(value)

    def read_items(self, data: Any) -> list[ReadItem]:
        """The products of a voted answer: every product at the items path, or the answer itself for one."""
        fields = self.contract.fields
        found = products_of(data, self.contract.voter.items_path, fields)
        if not found and isinstance(data, dict) and fields.product in data:  # one product's answer
            found = products_of([data], "", fields)
        if not found:
            raise KeyError("no products in the voted answer")
        return [ReadItem(p.product_id, p.position, p.available, p.reserved) for p in found.values()]
