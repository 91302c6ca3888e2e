"""The dashboard's pages and the files they load: templates/ rendered once, static/ and the vendored Plotly bundle."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from faultlab.vendor import PLOTLY_JS

HERE = Path(__file__).parent
CONTENT_TYPES = {".js": "application/javascript", ".css": "text/css"}
PAGES = {"/": "index.html", "/reports": "reports.html"}


def render_pages() -> dict[str, str]:
    """Each page's HTML by its path; the templates take no data (the pages fetch everything from the JSON APIs)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    return {path: env.get_template(name).render() for path, name in PAGES.items()}


def static_files() -> dict[str, tuple[Path, str]]:
    """(file, content type) by the name the pages ask for under /static/: static/*.js|css and plotly.min.js."""
    files = {p.name: (p, CONTENT_TYPES[p.suffix]) for p in sorted((HERE / "static").iterdir())
             if p.suffix in CONTENT_TYPES}
    files["plotly.min.js"] = (PLOTLY_JS, CONTENT_TYPES[".js"])
    missing = [str(path) for path, _type in files.values() if not path.is_file()]
    if missing or "dashboard.js" not in files:
        raise FileNotFoundError(f"the dashboard's front-end files are not installed: {missing or 'static/'}")
    return files
