"""A page showing the episode timeline on given episodes, served by a tiny aiohttp server (no lab): either the way the
dashboard takes the component (its modules from /static/ as the dashboard serves them, the words of its JSON catalog,
the dashboard's page CSP) or the way report.html does (the modules inlined into one script, the words from gettext,
the self-contained pages' CSP). tests/e2e/test_timeline.py and benchmarks/timeline.py use it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from faultlab.faults.registry import colours
from faultlab.lab.dashboard.api import PAGE_CSP, SELF_CONTAINED_CSP
from faultlab.lab.dashboard.frontend import catalogs, static_files
from faultlab.lab.report_html import STATIC, inline_modules
from faultlab.lab.timeline_words import timeline_words

FORMS = ("served", "inlined")
MODULES = ("timeline_steps.js", "timeline_svg.js", "timeline.js")
# What the page does once its data is read: draw, then note when the drawing was done and when the first step was
# said (performance.now(), from the navigation's start), for the benchmark.
START = """
const data = JSON.parse(document.getElementById("timeline-data").textContent);
const views = renderTimelines(document.getElementById("episodes"), data.docs,
  {lang: data.lang, words: data.words, colours: data.colours});
window.timelineRenderedMs = performance.now();
for (const view of views) {
  new MutationObserver(() => { window.timelineFirstStepMs ??= performance.now(); })
    .observe(view.live, {childList: true, characterData: true, subtree: true});
}
document.body.dataset.ready = "yes";
"""


def words_for(lang: str, form: str) -> dict[str, str]:
    """The timeline's words as that page would hand them over: the dashboard's catalog, or report.html's gettext."""
    if form == "served":
        return {k: v for k, v in catalogs()[lang].items() if k.startswith("timeline.")}
    return timeline_words(lang)


def page_html(docs: list[dict[str, Any]], lang: str, form: str) -> str:
    """The page: a heading, the episodes' container, the data block and the script (a module file, or inlined)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}")
    data = {"docs": docs, "lang": lang, "words": words_for(lang, form), "colours": colours()}
    block = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    script = ('<script type="module" src="/page.js"></script>' if form == "served" else
              f'<script type="module">{inline_modules(*(STATIC / m for m in MODULES))}\n{START}</script>')
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>timeline</title></head>'
            f'<body><main><h1>faultlab</h1><div id="episodes"></div></main>'
            f'<script type="application/json" id="timeline-data">{block}</script>{script}</body></html>')


def app(pages: dict[str, tuple[str, str]]) -> web.Application:
    """`pages`: path -> (form, html). Serves them with their page's CSP, the dashboard's /static/ files (only the
    timeline's modules are asked for) and /page.js (the served form's start: the import, then START)."""
    served = static_files()

    async def page(request: web.Request) -> web.Response:
        form, html = pages[request.path]
        csp = PAGE_CSP if form == "served" else SELF_CONTAINED_CSP
        return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": csp})

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in served:
            raise web.HTTPNotFound()
        path, content_type = served[name]
        return web.Response(body=path.read_bytes(), content_type=content_type)

    async def start(_request: web.Request) -> web.Response:
        source = 'import {renderTimelines} from "/static/timeline.js";\n' + START
        return web.Response(text=source, content_type="application/javascript")

    application = web.Application()
    application.router.add_get("/static/{name}", static)
    application.router.add_get("/page.js", start)
    for path in pages:
        application.router.add_get(path, page)
    return application


@asynccontextmanager
async def timeline_server(pages: dict[str, tuple[str, str]]) -> AsyncIterator[str]:
    """The pages on a free port of 127.0.0.1; yields the base URL, stops the server on the way out."""
    runner = web.AppRunner(app(pages))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
