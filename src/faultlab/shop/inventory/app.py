"""Inventory replica (ports 5001-5003): its store, its log applier and its reporter started around its HTTP API
(`api.py`: stock reads, health, and the operator's fault endpoints)."""

from __future__ import annotations

import contextlib
import os

from faultlab.core.config import Settings
from faultlab.core.db import lab_epoch
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.log import get_logger
from faultlab.core.metrics_store import flushing
from faultlab.core.web import serve
from faultlab.faults import FaultSet
from faultlab.shop.inventory.api import InventoryApi
from faultlab.shop.inventory.replica import LogApplier
from faultlab.shop.inventory.store import ReplicaStore


async def main(settings: Settings, replica: int) -> None:
    log = get_logger("inventory", replica)
    faults = FaultSet()
    reporter = MonitorReporter(settings)
    await reporter.start()
    store = ReplicaStore(settings, replica)
    await store.open()
    epoch = await lab_epoch(store.pool)  # read now, when the process starts working (a warm spare: when let go)
    applier = LogApplier(settings, replica, store, faults, log, epoch, reporter)
    await applier.start()  # the state, the commit connection and the broker connections side by side
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
        await reporter.stop()
        await store.close()
