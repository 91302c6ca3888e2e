"""Locust users for faultlab (optional: `pip install locust`): voted reads and orders, the mix `faultlab load` sends.

    locust -f benchmarks/locustfile.py --headless -u 50 -r 50 -t 60s --host http://127.0.0.1:5005

--host is the voter; orders go to FAULTLAB_ORDERS_PORT (default 5006) on the same address. Each user
aims at one request per second (`constant_throughput(1)`), so `-u 50` is about 50 req/s: 80 % voted
reads of one product, 20 % orders (FAULTLAB_ORDER_RATIO), each order with an Idempotency-Key (a 503 "outcome":
"unknown" is retried once with the same key), and cancels of the orders a user placed. A 503 "quorum not reached"
counts as a failure.

Locust is closed-loop per user: while the server stalls, a user waits instead of sending, so a stall
shows up as fewer requests rather than as latency (coordinated omission). For TTD/TTR figures and
percentiles you can trust, use `faultlab load` / `faultlab experiment` (open loop, latency from the
intended send time); use this file to explore by hand with Locust's web UI.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from urllib.parse import urlsplit

from locust import HttpUser, constant_throughput, task

DEFAULT_STOCK = {"PROD-001": 1000, "PROD-002": 500, "PROD-003": 750}
PRODUCTS = sorted(json.loads(os.environ["FAULTLAB_INITIAL_STOCK"]) if os.environ.get("FAULTLAB_INITIAL_STOCK")
                  else DEFAULT_STOCK)
ORDERS_PORT = int(os.environ.get("FAULTLAB_ORDERS_PORT", "5006"))
ORDER_RATIO = float(os.environ.get("FAULTLAB_ORDER_RATIO", "0.2"))
READ_WEIGHT = max(1, round(100 * (1 - ORDER_RATIO)))
ORDER_WEIGHT = max(0, round(100 * ORDER_RATIO))
CANCEL_WEIGHT = max(0, round(ORDER_WEIGHT / 2))  # half the orders placed are cancelled: the stock comes back


class ShopUser(HttpUser):
    """One shopper: mostly voted stock reads, sometimes an order."""

    wait_time = constant_throughput(1)
    host = "http://127.0.0.1:5005"

    def on_start(self) -> None:
        address = urlsplit(self.host or "http://127.0.0.1:5005").hostname or "127.0.0.1"
        self.orders_url = f"http://{address}:{ORDERS_PORT}/orders"
        self.placed: list[str] = []

    @task(READ_WEIGHT)
    def voted_read(self) -> None:
        product = random.choice(PRODUCTS)
        with self.client.get(f"/inventory/voted/{product}", name="/inventory/voted/[product]",
                             catch_response=True) as resp:
            if resp.status_code == 503:
                resp.failure("quorum not reached")
            elif resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            else:
                resp.success()

    @task(ORDER_WEIGHT)
    def order(self) -> None:
        body = {"product_id": random.choice(PRODUCTS), "quantity": random.randint(1, 3)}
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in (1, 2):  # an unknown outcome is retried once with the same key: never a second order
            with self.client.post(self.orders_url, json=body, headers=headers, name="/orders",
                                  catch_response=True) as resp:
                unknown = resp.status_code == 503 and (resp.json() or {}).get("outcome") == "unknown"
                if resp.status_code in (200, 201):
                    self.placed.append(resp.json()["order_id"])
                    resp.success()
                    return
                if unknown and attempt == 1:
                    resp.success()
                    continue
                resp.failure(f"HTTP {resp.status_code}")
                return

    @task(CANCEL_WEIGHT)
    def cancel(self) -> None:
        if not self.placed:
            return
        order_id = self.placed.pop(random.randrange(len(self.placed)))
        with self.client.delete(f"{self.orders_url}/{order_id}", name="/orders/[id]", catch_response=True) as resp:
            if resp.status_code in (202, 409):  # 409: rejected or already cancelled, a right answer
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")
