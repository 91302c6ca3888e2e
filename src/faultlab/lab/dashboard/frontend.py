"""The dashboard's pages and the files they load: templates/ rendered once per language, static/ and Plotly.

The pages' words live in one JSON catalog per language (`locale/<lang>.json`, the same keys in each): the
templates say them through `t(key)`, and each page carries its language's catalog as a JSON block for the
scripts (static/i18n.js), with every recorded sentence's code and its message in that language (from the gettext
catalogs: core/codes.py), so the scripts say a monitor's reason or a phase's misses in the page's language. The language of a page is `?lang=`, else the reader's choice (the `faultlab_lang`
cookie the language switch sets), else the browser's Accept-Language, else the lab's (FAULTLAB_LANG or the locale).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from faultlab.core import i18n
from faultlab.core.said import codes_for
from faultlab.lab.dashboard.operator import kinds_json
from faultlab.vendor import PLOTLY_JS

HERE = Path(__file__).parent
CONTENT_TYPES = {".js": "application/javascript", ".css": "text/css"}
PAGES = {"/": "index.html", "/reports": "reports.html", "/demo": "demo.html"}
REPLAY_PAGE = {"/replay": "replay.html"}  # served at /replay/<run> (lab/dashboard/replay.py)
LANG_COOKIE = "faultlab_lang"
LANGUAGE_NAMES = (("es", "Español"), ("en", "English"))


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Each language's messages for the pages, by key."""
    return {lang: json.loads((HERE / "locale" / f"{lang}.json").read_text(encoding="utf-8")) for lang in i18n.LANGUAGES}


def render_pages() -> dict[str, dict[str, str]]:
    """Each page's HTML by language and path; the templates take no data but the words and the fault registry (the
    pages fetch everything else from the JSON APIs)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    pages: dict[str, dict[str, str]] = {}
    for lang, messages in catalogs().items():
        def t(key: str, messages: dict[str, Any] = messages) -> str:
            return messages[key]  # a key missing from a catalog fails here, when the dashboard starts

        context = {"lang": lang, "t": t, "languages": LANGUAGE_NAMES,
                   "catalog": {"lang": lang, "messages": messages, "codes": codes_for(lang)},
                   "fault_kinds": kinds_json(lang)}  # the fault registry, for the operator's form
        pages[lang] = {path: env.get_template(name).render(**context)
                       for path, name in {**PAGES, **REPLAY_PAGE}.items()}
    return pages


def page_language(asked: str | None, cookie: str | None, default: str, accept: str | None = None) -> str:
    """The language to render a page in: `?lang=` (an unknown one is an error), else the cookie, else the browser's
    Accept-Language (its most wanted language faultlab speaks), else `default`."""
    if asked is not None:
        if asked not in i18n.LANGUAGES:
            raise ValueError(f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        return asked
    if cookie in i18n.LANGUAGES:
        return str(cookie)
    return accepted_language(accept) or default


def accepted_language(header: str | None) -> str | None:
    """The language of an Accept-Language header that faultlab speaks, the most wanted first (q-values; `es-AR`
    counts as es); None when it names none of them."""
    wanted: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in i18n.LANGUAGES and quality > 0:
            wanted.append((-quality, index, language))
    return min(wanted)[2] if wanted else None


def static_files() -> dict[str, tuple[Path, str]]:
    """(file, content type) by the name the pages ask for under /static/: static/*.js|css, the episode timeline's
    modules (lab/static/timeline*.js, which report.html inlines) and plotly.min.js."""
    files = {p.name: (p, CONTENT_TYPES[p.suffix]) for p in sorted((HERE / "static").iterdir())
             if p.suffix in CONTENT_TYPES}
    files.update({p.name: (p, CONTENT_TYPES[".js"]) for p in sorted((HERE.parent / "static").glob("timeline*.js"))})
    files["plotly.min.js"] = (PLOTLY_JS, CONTENT_TYPES[".js"])
    missing = [str(path) for path, _type in files.values() if not path.is_file()]
    if missing or "dashboard.js" not in files:
        raise FileNotFoundError(f"the dashboard's front-end files are not installed: {missing or 'static/'}")
    return files
