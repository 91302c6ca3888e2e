"""The dashboard's HTTP API (port 5007): named handlers and one route table — its pages and static files, the live
stream, the operator's controls, the reports, the comparison, and the guide's /api paths (`guide_api.py`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.guide import health_body
from faultlab.core.log import get_logger
from faultlab.core.web import ApiError, Handler, create_app, json_response, read_json, require_token
from faultlab.lab import demo
from faultlab.lab.compare import compare
from faultlab.lab.compare_html import render_compare
from faultlab.lab.dashboard import frontend, guide_api
from faultlab.lab.dashboard.collector import LiveState
from faultlab.lab.dashboard.operator import ExperimentProcess, FaultForwarder, kinds_json, replica_of
from faultlab.lab.dashboard.replay import recording
from faultlab.lab.dashboard.reports import RunsFolder
from faultlab.lab.dashboard.timelines import live_timelines
from faultlab.openapi.dashboard import openapi_document

KEEPALIVE_S = 15.0
# The pages load scripts only from the dashboard itself; plotly needs inline styles, nothing needs eval.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


# report.html and the comparison are self-contained (plotly inlined): they may run their own inline scripts, nothing else.
SELF_CONTAINED_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
                      "img-src data: blob:; frame-ancestors 'self'")


def sse_frame(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class DashboardApi:
    """The dashboard's handlers, over the live state, the operator's fault forwarding, the experiment child and the
    runs folder."""

    def __init__(self, settings: Settings, live: LiveState, faults: FaultForwarder, experiment: ExperimentProcess,
                 runs: RunsFolder, operator: bool = True) -> None:
        self.settings = settings
        self.operator = operator  # False: a system faultlab did not start, watched while an experiment runs on it
        self.live = live
        self.faults = faults
        self.experiment = experiment
        self.runs = runs
        self.guide = guide_api.GuideDashboardApi(settings)
        self.pages = frontend.render_pages()
        self.default_lang = i18n.resolve(None)  # the lab's language (FAULTLAB_LANG or the locale)
        self.static_files = frontend.static_files()

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            *(web.get(path, self.html_page) for path in frontend.PAGES),
            web.get("/static/{name}", self.static),
            web.get("/health", self.health),
            web.get("/api/openapi.json", self.openapi),
            web.get("/api/snapshot", self.snapshot),
            web.get("/api/series", self.series),
            web.get("/api/stream", self.stream),
            web.get("/api/timelines", self.timelines),
            web.get("/api/auth", self.auth_check),
            web.get("/api/faults", self.list_faults),
            web.post("/api/faults", self.inject),
            web.delete("/api/faults", self.clear),
            web.get("/api/fault-kinds", self.fault_kinds),
            web.get("/api/experiment", self.experiment_status),
            web.get("/api/demo", self.demo_status),
            web.post("/api/experiment", self.experiment_start),
            web.delete("/api/experiment", self.experiment_stop),
            web.get("/api/runs", self.list_runs),
            web.get("/api/runs/{name}", self.run_detail),
            web.get("/runs/{name}/{filename}", self.run_file),
            web.get("/replay/{name}", self.replay_page),
            web.get("/api/replay/{name}", self.replay_data),
            web.get("/api/compare", self.compare_json),
            web.get("/compare", self.compare_page),
            *self.guide.routes(),
        ]

    def build(self) -> web.Application:
        app = create_app(self.settings, "dashboard", get_logger("dashboard"))
        app.middlewares.append(same_origin)
        app.add_routes(self.routes())
        app.on_startup.append(self.guide.open)
        app.on_shutdown.append(self.close_streams)
        app.on_cleanup.append(self.guide.close)
        return app

    def operating(self) -> None:
        """The operator's controls act on faultlab's own lab only: on a system it did not start, 409 and nothing
        done (its faults are the running experiment's)."""
        if not self.operator:
            raise ApiError(409, "this dashboard watches a system faultlab did not start: its faults are injected "
                                "and cleared by the experiment running on it (faultlab experiment --system)")

    async def close_streams(self, _app: web.Application) -> None:
        self.live.close_subscribers()

    # ---- pages ----------------------------------------------------------------------------------------------------

    def reader_language(self, request: web.Request) -> str:
        """The page's language: ?lang=, else the reader's remembered choice, else the browser's Accept-Language,
        else the lab's (a 400 for a bad ?lang=)."""
        try:
            return frontend.page_language(request.query.get("lang"), request.cookies.get(frontend.LANG_COOKIE),
                                          self.default_lang, request.headers.get("Accept-Language"))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    async def html_page(self, request: web.Request) -> web.Response:
        lang = self.reader_language(request)
        return page(self.pages[lang][request.path], lang)

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in self.static_files:
            raise ApiError(404, f"no static file {name[:40]!r}")
        path, content_type = self.static_files[name]
        # Plotly changes only with the package; the page's own files are revalidated (ETag) on every load.
        cache = "public, max-age=86400" if name == "plotly.min.js" else "no-cache"
        return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": content_type})

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(health_body("dashboard", True, subscribers=self.live.subscriber_count,
                                         monitor_stream=self.live.monitor_stream))

    async def openapi(self, _request: web.Request) -> web.Response:
        return json_response(openapi_document(self.settings))

    # ---- live -----------------------------------------------------------------------------------------------------

    async def snapshot(self, _request: web.Request) -> web.Response:
        await self.live.catch_up()
        return json_response(self.live.snapshot())

    async def series(self, request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            raise ApiError(400, "since must be a UNIX time in seconds") from None
        return json_response({"points": [p for p in self.live.series if p["t"] > since]})

    async def timelines(self, _request: web.Request) -> web.Response:
        """The current and recent episodes' timelines (lab/dashboard/timelines.py), built off the event loop."""
        await self.live.catch_up()
        observations = await self.live.recent_observations()
        if observations is None:
            return json_response({"timelines": [], "kept_from": None})
        kept_from = observations[0]["t"] if observations else None
        docs = await asyncio.to_thread(live_timelines, self.settings, list(self.live.failures), observations,
                                       list(self.live.events), kept_from)
        return json_response({"timelines": docs, "kept_from": kept_from})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: a `snapshot`, then `tick` (4 per second), `event` (monitor) and `health` updates."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue = self.live.subscribe()
        try:
            await self.live.catch_up()
            await response.write(b"retry: 1000\n" + sse_frame("snapshot", self.live.snapshot()))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                await response.write(sse_frame(*item))
        except ConnectionResetError:
            pass
        finally:
            self.live.unsubscribe(queue)
        return response

    # ---- the operator's controls ------------------------------------------------------------------------------------

    async def auth_check(self, request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"ok": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        require_token(request)
        return json_response(await self.faults.list())

    async def inject(self, request: web.Request) -> web.Response:
        require_token(request)
        self.operating()
        status, data = await self.faults.inject(await read_json(request))
        return json_response(data, status=status)

    async def fault_kinds(self, request: web.Request) -> web.Response:
        lang = request.query.get("lang", self.default_lang)
        if lang not in i18n.LANGUAGES:
            raise ApiError(400, f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        return json_response(kinds_json(lang))

    async def clear(self, request: web.Request) -> web.Response:
        require_token(request)
        self.operating()
        replica = replica_of(request.query.get("replica"), self.settings)
        status, data = await self.faults.clear(replica, request.query.get("kind") or None)
        return json_response(data, status=status)

    async def experiment_status(self, _request: web.Request) -> web.Response:
        return json_response(self.experiment.describe(tail=200))

    async def experiment_start(self, request: web.Request) -> web.Response:
        require_token(request)
        self.operating()
        body: dict[str, Any] = await read_json(request) if request.can_read_body else {}
        return json_response(await self.experiment.start(body.get("phases"), body.get("lang")), status=202)

    async def experiment_stop(self, request: web.Request) -> web.Response:
        require_token(request)
        self.operating()
        return json_response(await self.experiment.interrupt())

    async def demo_status(self, request: web.Request) -> web.Response:
        """The presentation page's data: the replicas' cards and the last demo's steps (`faultlab demo`), each said
        in the reader's language with the run's own figures (null before any demo ran in this lab folder)."""
        lang = request.query.get("lang", self.default_lang)
        if lang not in i18n.LANGUAGES:
            raise ApiError(400, f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        state = await asyncio.to_thread(demo.read_state, self.settings.home)
        await self.live.catch_up()
        return json_response({"at": time.time(), "instances": self.live.cards(),
                              "demo": demo.described(state, lang) if state is not None else None})

    # ---- past runs ----------------------------------------------------------------------------------------------

    async def list_runs(self, _request: web.Request) -> web.Response:
        return json_response({"runs_dir": str(self.runs.root.resolve()), "runs": self.runs.list()})

    async def run_detail(self, request: web.Request) -> web.Response:
        return json_response(self.runs.detail(request.match_info["name"]))

    async def run_file(self, request: web.Request) -> web.FileResponse:
        path = self.runs.file(request.match_info["name"], request.match_info["filename"])
        return web.FileResponse(path, headers={
            "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SELF_CONTAINED_CSP})

    async def replay_page(self, request: web.Request) -> web.Response:
        """A run of the runs folder played back (lab/dashboard/replay.py; the reports page links here)."""
        self.runs.run_dir(request.match_info["name"])
        lang = self.reader_language(request)
        return page(self.pages[lang]["/replay"], lang)

    async def replay_data(self, request: web.Request) -> web.Response:
        path = self.runs.run_dir(request.match_info["name"])
        return json_response(await asyncio.to_thread(recording, path))

    def compared(self, request: web.Request) -> dict[str, Any]:
        names = [n for n in request.query.get("runs", "").split(",") if n]
        return compare(self.runs.reports(names))

    async def compare_json(self, request: web.Request) -> web.Response:
        return json_response(self.compared(request))

    async def compare_page(self, request: web.Request) -> web.Response:
        """The comparison page (self-contained, as `faultlab compare` writes it), in the reader's language."""
        lang = self.reader_language(request)
        html = await asyncio.to_thread(render_compare, self.compared(request), lang)
        return web.Response(text=html, content_type="text/html", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Language": lang,
            "Content-Security-Policy": SELF_CONTAINED_CSP})


@web.middleware
async def same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Writes must come from a page this dashboard served (or from a client that sends no Origin)."""
    origin = request.headers.get("Origin")
    if request.method not in ("GET", "HEAD", "OPTIONS") and origin and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "cross-origin request refused")
    return await handler(request)


def page(html: str, lang: str) -> web.Response:
    return web.Response(text=html, content_type="text/html", headers={
        "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Content-Language": lang})
