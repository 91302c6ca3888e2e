"""Orders service (port 5006): its database pool and schema, the outbox relay, the results consumer, the pending
reconciler and the log's generations started around its HTTP API (`api.py`)."""

from __future__ import annotations

from faultlab.core.config import Settings
from faultlab.core.db import ORDERS_SCHEMA, create_pool, lab_epoch, migrate
from faultlab.core.log import get_logger
from faultlab.core.metrics_store import flushing
from faultlab.core.web import serve
from faultlab.shop.orders.api import OrdersApi
from faultlab.shop.orders.generations import LogGenerations
from faultlab.shop.orders.relay import OutboxRelay
from faultlab.shop.orders.results import PendingReconciler, ResultsConsumer


async def main(settings: Settings) -> None:
    log = get_logger("orders")
    pool = await create_pool(settings, min_size=4, max_size=20)
    await migrate(pool, ORDERS_SCHEMA, lock_key=1)
    epoch = await lab_epoch(pool)  # read now, when the process starts working (a warm spare: when let go)
    log.info("epoch", epoch=epoch)
    generations = LogGenerations(settings, pool, log)
    relay = OutboxRelay(settings, pool, log, epoch, generations)
    results = ResultsConsumer(settings, pool, log, epoch, generations)
    generations.results_low = lambda: results.low
    generations.relay_low = lambda: relay.low
    reconciler = PendingReconciler(settings, pool, log)
    for part in (relay, results, reconciler, generations):
        await part.start()
    try:
        app = OrdersApi(settings, pool, relay, results, log).build()
        async with flushing(pool, app, "orders-svc", log):
            await serve(app, settings.host, settings.orders_port, log)
    finally:
        for part in (generations, reconciler, results, relay):
            await part.stop()
        await pool.close()
