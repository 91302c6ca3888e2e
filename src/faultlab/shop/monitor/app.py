"""Monitor (port 5004): active health checks plus passive evidence, instance states, failures and an event stream."""

from __future__ import annotations

from faultlab.core.config import Settings
from faultlab.core.db import MONITOR_SCHEMA, create_pool, lab_epoch, migrate
from faultlab.core.log import get_logger
from faultlab.core.metrics_store import flushing
from faultlab.core.web import serve
from faultlab.shop.monitor.api import MonitorApi
from faultlab.shop.monitor.health_monitor import HealthMonitor


async def main(settings: Settings) -> None:
    log = get_logger("monitor")
    pool = await create_pool(settings, min_size=1, max_size=3)
    await migrate(pool, MONITOR_SCHEMA, lock_key=2)
    epoch = await lab_epoch(pool)  # read now, when the process starts working (a warm spare: when let go)
    log.info("epoch", epoch=epoch)
    monitor = HealthMonitor(settings, pool, epoch)
    await monitor.start()
    try:
        app = MonitorApi(settings, monitor).build()
        async with flushing(pool, app, "monitor-svc", log):
            await serve(app, settings.host, settings.monitor_port, log)
    finally:
        await monitor.stop()
        await pool.close()
