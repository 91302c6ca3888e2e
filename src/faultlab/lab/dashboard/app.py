"""Dashboard (port 5007): the live web page of the lab, its JSON APIs, operator controls and the reports page; and
the same page watching a system faultlab did not start while an experiment runs on it (`SystemDashboard`)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

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


class SystemDashboard:
    """The live page on a system faultlab did not start, for the length of an experiment: its replicas as faultlab's
    observer sees them (the system monitor's state beside the observer's), its voter and orders; read-only (the
    operator's controls answer 409). On the dashboard's port, or a free one when the system holds it."""

    def __init__(self, settings: Settings, urls: dict[str, str]) -> None:
        self.settings = settings
        self.urls = urls  # monitor → the observer's API; voter, orders, inventory-N → the system's own
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self._live: LiveState | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, host: str = "127.0.0.1") -> str:
        """Serve on the dashboard's port, else on a free one; the page's address."""
        log = get_logger("dashboard")
        self._session = aiohttp.ClientSession()
        for port in (self.settings.dashboard_port, 0):
            settings = self.settings.model_copy(update={"dashboard_port": port})
            live = LiveState(settings, log, urls=self.urls)
            api = DashboardApi(settings, live, FaultForwarder(settings, self._session),
                               ExperimentProcess(settings, settings.runs_dir), RunsFolder(settings.runs_dir),
                               operator=False)
            runner = web.AppRunner(api.build(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError:  # the system (or anything else) holds the port: move off it
                await runner.cleanup()
                continue
            bound = runner.addresses[0][1] if runner.addresses else port
            live.settings = settings.model_copy(update={"dashboard_port": bound})
            await live.start()
            self._runner, self._live, self.url = runner, live, f"http://{host}:{bound}"
            return self.url
        raise OSError("no port for the dashboard")

    async def stop(self) -> None:
        """Stop serving and polling (safe twice)."""
        if self._live is not None:
            live, self._live = self._live, None
            await live.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
