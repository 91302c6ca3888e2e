"""The dashboard's pages in Spanish and English: chosen by ?lang=, the language switch's cookie or the lab's
language, rendered from the JSON catalogs with no word of the other language."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from faultlab.lab.dashboard import frontend
from tests.unit.test_frontend_files import client  # noqa: F401  (the dashboard app on a test server)
from tests.untranslated import leftovers, visible_texts


def catalog_block(page: str) -> dict:
    start = page.index('<script type="application/json" id="i18n">') + len('<script type="application/json" id="i18n">')
    return json.loads(page[start:page.index("</script>", start)])


@pytest.mark.parametrize("lang", ["es", "en"])
def test_each_page_is_rendered_whole_in_each_language(lang: str) -> None:
    """Every page's static text (titles, headings, table heads, buttons, hints) is in its language only, and the
    page carries that language's catalog for its scripts."""
    for path, html in frontend.render_pages()[lang].items():
        assert f'<html lang="{lang}">' in html, path
        texts = visible_texts(html)
        assert len(texts) > 10, path
        assert not leftovers(texts, lang), (path, leftovers(texts, lang))
        block = catalog_block(html)
        assert block["lang"] == lang and block["messages"] == frontend.catalogs()[lang]


async def test_the_page_language_comes_from_the_query_then_the_cookie_then_the_browser_then_the_lab(
        client: TestClient) -> None:  # noqa: F811
    """?lang=es wins over the cookie, the cookie over the browser's Accept-Language, that over the lab's language
    (English in the test suite); an unknown ?lang is a 400 and an unknown cookie or browser language is passed
    over."""
    async def title(path: str, cookie: str | None = None, accept: str | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": f"faultlab_lang={cookie}"} if cookie else {}
        if accept:
            headers["Accept-Language"] = accept
        resp = await client.get(path, headers=headers)
        text = await resp.text()
        return resp.status, resp.headers.get("Content-Language", ""), text[text.find("<title>"):text.find("</title>")]

    assert await title("/") == (200, "en", "<title>faultlab — live dashboard")
    assert await title("/", "es") == (200, "es", "<title>faultlab — dashboard en vivo")
    assert await title("/reports?lang=en", "es") == (200, "en", "<title>faultlab — reports")
    assert await title("/reports?lang=es") == (200, "es", "<title>faultlab — reportes")
    assert (await title("/", "fr"))[:2] == (200, "en")
    assert await title("/", accept="es-AR,es;q=0.9,en;q=0.8") == (200, "es", "<title>faultlab — dashboard en vivo")
    assert (await title("/", "en", accept="es"))[:2] == (200, "en")
    assert (await title("/", accept="fr-FR,de;q=0.5"))[:2] == (200, "en")
    resp = await client.get("/?lang=fr")
    assert resp.status == 400 and "lang must be one of" in (await resp.json())["error"]


def test_page_language_rules() -> None:
    """The query, else a known cookie, else the browser's most wanted language faultlab speaks, else the default."""
    assert frontend.page_language(None, None, "es") == "es"
    assert frontend.page_language(None, None, "en", "fr, es;q=0.4, en;q=0.3") == "es"
    assert frontend.page_language(None, None, "es", "en-GB") == "en"
    assert frontend.page_language(None, None, "en", "es;q=0, pt") == "en"
    assert frontend.page_language(None, None, "es", "en;q=x, es;q=0.1") == "es"
    assert frontend.page_language(None, "en", "es") == "en"
    assert frontend.page_language("es", "en", "en") == "es"
    assert frontend.page_language(None, "xx", "en") == "en"
    with pytest.raises(ValueError):
        frontend.page_language("xx", None, "en")


async def test_an_experiment_started_from_the_page_speaks_the_pages_language(tmp_path) -> None:
    """The page sends its language: the experiment runs with --lang (its output and report.html in it); an unknown
    language is a 400 and starts nothing."""
    from faultlab.core.config import Settings
    from faultlab.core.web import ApiError
    from faultlab.lab.dashboard.operator import ExperimentProcess

    process = ExperimentProcess(Settings(home=tmp_path), tmp_path / "runs")
    assert process.language_args("es") == ["--lang", "es"] and process.language_args(None) == []
    with pytest.raises(ApiError) as refused:
        await process.start(None, "fr")
    assert refused.value.status == 400 and process.proc is None and not process.running
