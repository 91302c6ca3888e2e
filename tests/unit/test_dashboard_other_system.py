"""The live dashboard on a system faultlab did not build: its voter's own /voting/stats is passed on as it is, and
services whose /metrics is not Prometheus text are named, so the page can say why the latency charts stay empty."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.dashboard.collector import LiveState

GUIDE_STATS = {"voting_stats": {"total_requests": 10, "quorum_reached": 9, "quorum_not_reached": 1},
               "required_quorum": 2, "fan_out": 3}
PROMETHEUS = ('# TYPE faultlab_http_requests_total counter\n'
              'faultlab_http_requests_total{method="POST",route="/orders",status="201"} 4\n')


def answers(*responses: web.Response) -> web.Application:
    """A service whose /metrics and /voting/stats give these answers in turn."""
    replies = iter(responses)

    async def reply(_request: web.Request) -> web.Response:
        return next(replies)
    app = web.Application()
    app.router.add_get("/metrics", reply)
    app.router.add_get("/voting/stats", reply)
    return app


@asynccontextmanager
async def live_state(tmp_path: Path, app: web.Application, *services: str) -> AsyncIterator[LiveState]:
    """A LiveState whose `services` are at `app` (its loops not started: each poll is called by the test)."""
    async with TestServer(app) as server:
        base = str(server.make_url("")).rstrip("/")
        state = LiveState(Settings(home=tmp_path, admin_token="t" * 32), get_logger("d", stream=io.StringIO()),
                          urls=dict.fromkeys(services, base))
        async with aiohttp.ClientSession() as session:
            state._session = session
            yield state


async def test_a_guide_voter_and_json_metrics_are_named_not_misread(tmp_path: Path) -> None:
    """The voter's guide-layout stats reach the page unchanged; its JSON /metrics makes it a service with no
    Prometheus metrics, and no chart point is made of it."""
    app = answers(web.json_response(GUIDE_STATS), web.json_response({"requests": 10}))
    async with live_state(tmp_path, app, "voter") as state:
        await state._poll_voting()
        await state._scrape("voted")
        assert state._current()["voting"] == GUIDE_STATS
        assert state._current()["no_metrics"] == ["voter"]
        assert len(state._scrapes["voted"]) == 0


async def test_a_service_without_metrics_is_named_and_one_that_gains_them_is_not(tmp_path: Path) -> None:
    """A 404 on /metrics names the service; the same service answering Prometheus text later is taken off the list."""
    async with live_state(tmp_path, answers(web.Response(status=404), web.Response(text=PROMETHEUS)),
                          "orders") as state:
        await state._scrape("orders")
        assert state._current()["no_metrics"] == ["orders"]
        await state._scrape("orders")
        assert state._current()["no_metrics"] == []
        assert len(state._scrapes["orders"]) == 1
