"""Inventory replica (ports 5001-5003): its connections (`links.py`, a warm spare's opened while it waits), its
store, its log applier and its reporter started around its HTTP API (`api.py`: stock reads, health, and the
operator's fault endpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable

from faultlab.core.config import Settings
from faultlab.core.db import lab_epoch
from faultlab.core.evidence import observation
from faultlab.core.log import Logger, get_logger
from faultlab.core.metrics_store import flushing
from faultlab.core.web import serve
from faultlab.faults import FaultSet
from faultlab.shop.inventory.api import InventoryApi
from faultlab.shop.inventory.links import ReplicaLinks
from faultlab.shop.inventory.replica import LogApplier


async def main(settings: Settings, replica: int, released: Callable[[], Awaitable[bool]] | None = None) -> None:
    """Run the replica until SIGTERM. `released`: this process is a warm spare, let go when it returns True (False:
    not needed, exit); it opens its connections while it waits (links.py)."""
    log = get_logger("inventory", replica)
    links = ReplicaLinks(settings, replica, log)
    if released is not None and not await _let_go(released, links, log):
        return
    faults = FaultSet()
    try:
        await links.open()  # what is not open yet (everything, without a spare)
    except BaseException:
        await links.close()
        raise
    reporter, store = links.reporter, links.store
    applier = LogApplier(settings, replica, store, faults, log, reporter, links.consumer, links.producer, links.conn)
    # The epoch is read now, when the process starts working (a warm spare: when let go), beside the state.
    await applier.start(lab_epoch(store.pool))
    pool = store.pool
    if os.getpriority(os.PRIO_PROCESS, 0) > 0:  # started niced after a crash: full priority once working
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    app = InventoryApi(settings, replica, applier, faults, reporter, log).build()

    def listening() -> None:
        # The monitor checks a new process at once, instead of at its next probe of a replica it knows is down.
        reporter.report(observation(replica, "process_start", True, "replica", pid=os.getpid()), urgent=True)

    try:
        async with flushing(pool, app, f"inventory-svc-{replica}", log):
            await serve(app, settings.host, settings.replica_port(replica), log, listening)
    finally:
        faults.remove()
        await applier.stop()
        await links.close()


async def _let_go(released: Callable[[], Awaitable[bool]], links: ReplicaLinks, log: Logger) -> bool:
    """A warm spare's wait: its connections open meanwhile; True once let go, False (closed again) when it is not
    needed."""
    preparing = asyncio.create_task(links.prepare())
    go = False
    try:
        go = await released()
    finally:
        if not go:
            preparing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await preparing
            await links.close()
    if go:
        log.info("released")
        await preparing  # done long before, unless it was let go at once
    return go
