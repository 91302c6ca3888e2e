"""A guide system as the instruments reach it: the load (`GuideApi`, a `LoadApi`: the voter's voted reads, orders,
cancels and, where the system has them, restocks) and the data check (`GuideReader`, an `ApiReader`: each replica's
stock, an order's status) — each request built from the contract, each answer read through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.messages.system import SystemContract
from faultlab.lab.api_checkers import Stock
from faultlab.lab.load_model import ReadItem, Request
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
        """The products of a voted answer: every product at the items path, or one product's row where a shorter
        part of that path leads (`data` for `data.inventory`, the answer itself for `inventory`)."""
        fields = self.contract.fields
        path = self.contract.voter.items_path
        found = products_of(data, path, fields)
        parts = path.split(".") if path else []
        while not found and parts:  # one product's answer: its row sits where the list of every product would
            parts.pop()
            row = pick(data, ".".join(parts))
            if isinstance(row, dict) and fields.product in row:
                found = products_of([row], "", fields)
        if not found:
            raise KeyError("no products in the voted answer")
        return [ReadItem(p.product_id, p.position, p.available, p.reserved) for p in found.values()]


class GuideReader:
    """What the data check reads from a guide system after the run: each replica's GET /inventory, and an order's
    status (GET /orders/{id}) where the system has it."""

    def __init__(self, contract: SystemContract, client: LabClient, has_order_status: bool) -> None:
        self.contract = contract
        self.client = client
        self.replica_ids: Sequence[int] = list(range(1, len(contract.replicas.urls) + 1))
        self.has_order_status = has_order_status

    async def replica_stock(self, replica: int) -> Mapping[str, Stock] | None:
        replicas = self.contract.replicas
        try:
            status, answer = await self.client.send("GET", replicas.urls[replica - 1] + replicas.inventory_path,
                                                    timeout_s=self.contract.timeout_s)
        except ApiCallError:
            return None
        if status != 200:
            return None
        found = products_of(answer, replicas.items_path, self.contract.fields)
        return {p: Stock(v.available, v.reserved) for p, v in found.items()} or None

    async def order_status(self, order_id: str) -> str | None:
        """The order's status word; KeyError when the system answers 404 (it has no such order)."""
        orders = self.contract.orders
        assert orders.status_path is not None, "read only where the system has GET /orders/{id}"
        try:
            status, answer = await self.client.send("GET", orders.url + fill(orders.status_path, {"id": order_id}),
                                                    timeout_s=self.contract.timeout_s)
        except ApiCallError:
            return None
        if status == 404:
            raise KeyError(order_id)
        said = pick(answer, orders.status_field) if status == 200 else None
        return None if said is None else str(said)
