"""Dashboard HTTP app (port 5007): the pages and their static files, the live stream and the JSON APIs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from faultlab.core import i18n
from faultlab.core.config import Settings
from faultlab.core.guide import health_body
from faultlab.core.log import get_logger
from faultlab.core.web import ApiError, Handler, create_app, json_response, read_json, require_token, serve
from faultlab.lab.compare import compare
from faultlab.lab.compare_html import render_compare
from faultlab.lab.dashboard import frontend, guide_api
from faultlab.lab.dashboard.collector import LiveState
from faultlab.lab.dashboard.operator import ExperimentProcess, FaultProxy, kinds_json, replica_of
from faultlab.lab.dashboard.reports import RunsFolder
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


def build_app(settings: Settings, live: LiveState, faults: FaultProxy, experiment: ExperimentProcess,
              runs: RunsFolder) -> web.Application:
    log = get_logger("dashboard")
    app = create_app(settings, "dashboard", log)
    pages = frontend.render_pages()
    default_lang = i18n.resolve(None)  # the lab's language (FAULTLAB_LANG or the locale) until a reader chooses
    static_files = frontend.static_files()

    @web.middleware
    async def same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Writes must come from a page this dashboard served (or from a client that sends no Origin)."""
        origin = request.headers.get("Origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin and urlsplit(origin).netloc != request.host:
            raise ApiError(403, "cross-origin request refused")
        return await handler(request)

    app.middlewares.append(same_origin)

    def page(html: str, lang: str) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Content-Language": lang})

    def reader_language(request: web.Request) -> str:
        """The page's language: ?lang=, else the reader's remembered choice, else the lab's (a 400 for a bad one)."""
        try:
            return frontend.page_language(request.query.get("lang"), request.cookies.get(frontend.LANG_COOKIE),
                                          default_lang)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    async def html_page(request: web.Request) -> web.Response:
        lang = reader_language(request)
        return page(pages[lang][request.path], lang)

    async def static(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in static_files:
            raise ApiError(404, f"no static file {name[:40]!r}")
        path, content_type = static_files[name]
        # Plotly changes only with the package; the page's own files are revalidated (ETag) on every load.
        cache = "public, max-age=86400" if name == "plotly.min.js" else "no-cache"
        return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": content_type})

    async def health(_request: web.Request) -> web.Response:
        return json_response(health_body("dashboard", True, subscribers=live.subscriber_count,
                                         monitor_stream=live.monitor_stream))

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(openapi_document(settings))

    async def snapshot(_request: web.Request) -> web.Response:
        return json_response(live.snapshot())

    async def series(request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            raise ApiError(400, "since must be a UNIX time in seconds") from None
        return json_response({"points": [p for p in live.series if p["t"] > since]})

    async def stream(request: web.Request) -> web.StreamResponse:
        """Server-sent events: a `snapshot`, then `tick` (4 per second), `event` (monitor) and `health` updates."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue = live.subscribe()
        try:
            await response.write(b"retry: 1000\n" + sse_frame("snapshot", live.snapshot()))
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
            live.unsubscribe(queue)
        return response

    async def auth_check(request: web.Request) -> web.Response:
        require_token(request)
        return json_response({"ok": True})

    async def list_faults(request: web.Request) -> web.Response:
        require_token(request)
        return json_response(await faults.list())

    async def inject(request: web.Request) -> web.Response:
        require_token(request)
        status, data = await faults.inject(await read_json(request))
        return json_response(data, status=status)

    async def fault_kinds(request: web.Request) -> web.Response:
        lang = request.query.get("lang", default_lang)
        if lang not in i18n.LANGUAGES:
            raise ApiError(400, f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        return json_response(kinds_json(lang))

    async def clear(request: web.Request) -> web.Response:
        require_token(request)
        replica = replica_of(request.query.get("replica"), settings)
        status, data = await faults.clear(replica, request.query.get("kind") or None)
        return json_response(data, status=status)

    async def experiment_status(_request: web.Request) -> web.Response:
        return json_response(experiment.describe(tail=200))

    async def experiment_start(request: web.Request) -> web.Response:
        require_token(request)
        body: dict[str, Any] = await read_json(request) if request.can_read_body else {}
        return json_response(await experiment.start(body.get("phases"), body.get("lang")), status=202)

    async def experiment_stop(request: web.Request) -> web.Response:
        require_token(request)
        return json_response(await experiment.interrupt())

    async def list_runs(_request: web.Request) -> web.Response:
        return json_response({"runs_dir": str(runs.root.resolve()), "runs": runs.list()})

    async def run_detail(request: web.Request) -> web.Response:
        return json_response(runs.detail(request.match_info["name"]))

    def compared(request: web.Request) -> dict[str, Any]:
        names = [n for n in request.query.get("runs", "").split(",") if n]
        return compare(runs.reports(names))

    async def compare_json(request: web.Request) -> web.Response:
        return json_response(compared(request))

    async def compare_page(request: web.Request) -> web.Response:
        """The comparison page (self-contained, as `faultlab compare` writes it), in the reader's language."""
        lang = reader_language(request)
        html = await asyncio.to_thread(render_compare, compared(request), lang)
        return web.Response(text=html, content_type="text/html", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Language": lang,
            "Content-Security-Policy": SELF_CONTAINED_CSP})

    async def run_file(request: web.Request) -> web.FileResponse:
        path = runs.file(request.match_info["name"], request.match_info["filename"])
        return web.FileResponse(path, headers={
            "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SELF_CONTAINED_CSP})

    async def close_streams(_app: web.Application) -> None:
        live.close_subscribers()

    app.on_shutdown.append(close_streams)
    r = app.router
    for path in frontend.PAGES:
        r.add_get(path, html_page)
    r.add_get("/static/{name}", static)
    r.add_get("/health", health)
    r.add_get("/api/openapi.json", openapi)
    r.add_get("/api/snapshot", snapshot)
    r.add_get("/api/series", series)
    r.add_get("/api/stream", stream)
    r.add_get("/api/auth", auth_check)
    r.add_get("/api/faults", list_faults)
    r.add_post("/api/faults", inject)
    r.add_delete("/api/faults", clear)
    r.add_get("/api/fault-kinds", fault_kinds)
    r.add_get("/api/experiment", experiment_status)
    r.add_post("/api/experiment", experiment_start)
    r.add_delete("/api/experiment", experiment_stop)
    r.add_get("/api/runs", list_runs)
    r.add_get("/api/runs/{name}", run_detail)
    r.add_get("/runs/{name}/{filename}", run_file)
    r.add_get("/api/compare", compare_json)
    r.add_get("/compare", compare_page)
    guide_api.register(app, settings)
    return app


async def main(settings: Settings) -> None:
    log = get_logger("dashboard")
    runs = RunsFolder(settings.runs_dir)
    experiment = ExperimentProcess(settings, settings.runs_dir)
    live = LiveState(settings, log, extra=lambda: {"experiment": experiment.describe(tail=12)})
    session = aiohttp.ClientSession()
    await live.start()
    try:
        app = build_app(settings, live, FaultProxy(settings, session), experiment, runs)
        await serve(app, settings.host, settings.dashboard_port, log)
    finally:
        await experiment.stop()
        await live.stop()
        await session.close()
