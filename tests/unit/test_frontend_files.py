"""The front-end files: shipped as package data, served by the dashboard, and the vendored Plotly as pinned."""

from __future__ import annotations

import io
import json
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from faultlab.core.config import Settings
from faultlab.core.log import get_logger
from faultlab.lab.dashboard import frontend
from faultlab.lab.dashboard.api import DashboardApi
from faultlab.lab.dashboard.collector import LiveState
from faultlab.lab.dashboard.operator import ExperimentProcess, FaultForwarder
from faultlab.lab.dashboard.reports import RunsFolder
from faultlab.vendor import PLOTLY_JS, PLOTLY_VERSION

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "faultlab"
IMPORT = re.compile(r"""^import\s[^;]*?from\s+["'](\.[^"']+)["']""", re.MULTILINE)


def package_data_files() -> set[Path]:
    """Every file pyproject's package-data globs select (what a non-editable install ships besides modules)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    selected: set[Path] = set()
    for package, patterns in config.items():
        folder = ROOT / "src" / Path(*package.split("."))
        for pattern in patterns:
            selected.update(p for p in folder.glob(pattern) if p.is_file())
    return selected


def test_every_file_besides_python_modules_is_package_data() -> None:
    """A template, script, stylesheet or vendored file not listed in package-data would be missing from a wheel."""
    files = {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert {p.relative_to(PACKAGE).as_posix() for p in files} >= {
        "lab/dashboard/static/dashboard.js", "lab/dashboard/templates/index.html",
        "lab/templates/page.html", "lab/static/report.js", "lab/static/langs.js", "lab/templates/compare_body.html",
        "lab/study/templates/study_body.html", "lab/study/static/study.js", "vendor/plotly/plotly-basic.min.js"}
    missing = sorted(str(p.relative_to(ROOT)) for p in files - package_data_files())
    assert not missing, f"not in pyproject's [tool.setuptools.package-data]: {missing}"


def test_vendored_plotly_is_the_pinned_basic_bundle_with_its_licence() -> None:
    """The bundle's header names the version package.json pins; its MIT licence ships beside it."""
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["plotly.js-basic-dist-min"]
    header = PLOTLY_JS.read_text(encoding="utf-8")[:200]
    assert f"plotly.js (basic - minified) v{PLOTLY_VERSION}" in header and pinned == PLOTLY_VERSION
    assert "MIT License" in (PLOTLY_JS.parent / "LICENSE").read_text()
    assert "</script" not in PLOTLY_JS.read_text(encoding="utf-8")  # inlined into report.html as it is


def test_self_contained_pages_inline_their_modules_in_order(tmp_path: Path) -> None:
    """A module's imports of modules inlined before it are dropped (their names are in scope); importing one that is
    not inlined, or inlined after it, is refused: a self-contained page loads nothing."""
    from faultlab.lab.report_html import inline_modules

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.js").write_text('export const A = "</script>";\n')
    (tmp_path / "b.js").write_text('import {A} from "./lib/a.js";\nimport {\n  C,\n} from "./lib/a.js";\n'
                                   'export const B = A;\n')
    (tmp_path / "c.js").write_text('import {Z} from "./z.js";\n')
    (tmp_path / "d.js").write_text('import Plotly from "plotly";\n')
    page = inline_modules(tmp_path / "lib" / "a.js", tmp_path / "b.js")
    assert "import" not in page and "export const B = A;" in page and "</script" not in page
    assert page.index("export const A") < page.index("export const B")
    for wrong in ((tmp_path / "b.js", tmp_path / "lib" / "a.js"), (tmp_path / "c.js",), (tmp_path / "d.js",)):
        with pytest.raises(ValueError):
            inline_modules(*wrong)
    for path in (PACKAGE / "lab" / "static" / "report.js", PACKAGE / "lab" / "study" / "static" / "study.js"):
        source = path.read_text()  # the pages' own modules import nothing but langs.js
        assert {target.rsplit("/", 1)[-1] for target in IMPORT.findall(source)} == {"langs.js"}, path


def test_every_module_import_of_the_pages_is_a_served_file() -> None:
    """The browser fetches `./x.js` imports from /static/: each must be a file the dashboard serves."""
    served = frontend.static_files()
    for name, (path, _content_type) in served.items():
        if name == "plotly.min.js":
            continue
        for target in IMPORT.findall(path.read_text()):
            assert target.startswith("./") and target[2:] in served, (name, target)
    pages = frontend.render_pages()["en"]
    scripts = re.findall(r'<script[^>]*src="/static/([^"]+)"', pages["/"]) + re.findall(
        r'<script[^>]*src="/static/([^"]+)"', pages["/reports"])
    assert scripts == ["plotly.min.js", "dashboard.js", "reports.js"]


@pytest_asyncio.fixture(loop_scope="function")  # the unit tests' own loop (tests/unit/conftest.py)
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """The dashboard app on a test server, nothing started behind it (no lab needed for pages and files)."""
    settings = Settings(home=tmp_path, admin_token="t" * 32, runs_dir=tmp_path / "runs")
    log = get_logger("dashboard", stream=io.StringIO())
    async with aiohttp.ClientSession() as session:
        app = DashboardApi(settings, LiveState(settings, log), FaultForwarder(settings, session),
                           ExperimentProcess(settings, settings.runs_dir), RunsFolder(settings.runs_dir)).build()
        async with TestClient(TestServer(app)) as test_client:
            yield test_client


async def test_dashboard_serves_its_pages_and_static_files(client: TestClient) -> None:
    """Both pages come from the templates with the page CSP; scripts, stylesheet and Plotly from the package."""
    for path, title in (("/", "faultlab — live dashboard"), ("/reports", "faultlab — reports")):
        resp = await client.get(path)
        assert resp.status == 200 and resp.content_type == "text/html"
        assert f"<title>{title}</title>" in await resp.text()
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    for name, content_type in (("dashboard.js", "application/javascript"), ("views.js", "application/javascript"),
                               ("dashboard.css", "text/css")):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200 and resp.content_type == content_type, name
        assert resp.headers["Cache-Control"] == "no-cache"
        body = await resp.read()
        assert body == (PACKAGE / "lab" / "dashboard" / "static" / name).read_bytes()
    resp = await client.get("/static/plotly.min.js")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=86400"
    assert (await resp.read()) == PLOTLY_JS.read_bytes()


@pytest.mark.parametrize("name", ["frontend.py", "app.py", "..%2Fapp.py", "report.js", "index.html", "nope.js"])
async def test_dashboard_serves_nothing_else_under_static(client: TestClient, name: str) -> None:
    """Only the pages' own scripts, stylesheet and Plotly: no module source, template or other file."""
    resp = await client.get(f"/static/{name}")
    assert resp.status == 404
