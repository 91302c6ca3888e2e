"""Dashboard (port 5007): the live web page of the lab, its JSON APIs, operator controls and the reports page."""

from __future__ import annotations

import aiohttp

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.core.web import serve
from faultlab.lab.dashboard.api import DashboardApi
from faultlab.lab.dashboard.collector import LiveState
from faultlab.lab.dashboard.operator import ExperimentProcess, FaultForwarder
from faultlab.lab.dashboard.reports import RunsFolder


async def main(settings: Settings) -> None:
    log = get_logger("dashboard")
    runs = RunsFolder(settings.runs_dir)
    experiment = ExperimentProcess(settings, settings.runs_dir)
    live = LiveState(settings, log, extra=lambda: {"experiment": experiment.describe(tail=12)})
    session = aiohttp.ClientSession()
    await live.start()
    try:
        app = DashboardApi(settings, live, FaultForwarder(settings, session), experiment, runs).build()
        await serve(app, settings.host, settings.dashboard_port, log)
    finally:
        await experiment.stop()
        await live.stop()
        await session.close()
