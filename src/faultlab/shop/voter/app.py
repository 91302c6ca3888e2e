"""Voter (port 5005): fan out to every replica, answer as soon as a majority agrees, report what it saw."""

from __future__ import annotations

from faultlab.core.config import Settings
from faultlab.core.db import create_pool
from faultlab.core.evidence import MonitorReporter
from faultlab.core.log import get_logger
from faultlab.core.metrics_store import flushing
from faultlab.core.web import serve
from faultlab.shop.voter.api import VoterApi
from faultlab.shop.voter.majority_voter import MajorityVoter


async def main(settings: Settings) -> None:
    log = get_logger("voter")
    reporter = MonitorReporter(settings)
    await reporter.start()
    pool = await create_pool(settings, min_size=1, max_size=2)
    voter = MajorityVoter(settings, reporter, pool)
    await voter.start()
    try:
        app = VoterApi(settings, voter).build()
        async with flushing(pool, app, "voter-svc", log):
            await serve(app, settings.host, settings.voter_port, log)
    finally:
        await voter.stop()
        await reporter.stop()
        await pool.close()
