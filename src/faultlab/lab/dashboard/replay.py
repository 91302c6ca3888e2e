"""A recorded run played back on the dashboard's page: what the page needs of a run folder (its report, the monitor's
state and episode events of its events.jsonl, every episode's timeline), and the small server `faultlab replay`
starts on one run — no lab, no live view, no operator control. The live dashboard serves the same page for any run of
its runs folder (`/replay/<run>`; the reports page links to it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from faultlab.core.web import ApiError, json_response
from faultlab.lab.dashboard import frontend
from faultlab.lab.dashboard.reports import RunsFolder
from faultlab.lab.report import load_report
from faultlab.lab.report_html import timelines_of

PLAYED = ("state", "episode")  # the monitor's events the page plays back (cards, the failures table)
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def read_events(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The monitor's state and episode events of an events.jsonl in time order, and whether it holds the monitor's
    observations (runs recorded before them do not); unreadable lines are skipped."""
    played: list[dict[str, Any]] = []
    observations = False
    if path.is_file():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                kind = event.get("type") if isinstance(event, dict) else None
                if kind == "observation":
                    observations = True
                elif kind in PLAYED and isinstance(event.get("at"), (int, float)):
                    played.append(event)
    played.sort(key=lambda e: e["at"])
    return played, observations


def recording(run_dir: Path) -> dict[str, Any]:
    """What the replay page plays: the run's span, its replicas, the monitor's events, the episodes as the report
    has them (their final TTD and TTR), every phase run's timelines, and which lanes the run recorded."""
    report_path = run_dir / "report.json"
    if not report_path.is_file():
        raise ApiError(404, f"{run_dir.name} has no report.json: only an experiment's run can be replayed")
    report = load_report(report_path)
    info = report.experiment_info
    events, observations = read_events(run_dir / "events.jsonl")
    runs = timelines_of(report)
    episodes = [e.model_dump(mode="json") for r in report.results for e in r.episodes or []]
    replicas = sorted({int(e["replica"]) for e in events + episodes if isinstance(e.get("replica"), int)}
                      | set(range(1, (info.lab.replicas if info.lab and info.lab.replicas else 3) + 1)))
    return {"run": run_dir.name, "start": info.start_ts, "end": info.end_ts, "replicas": replicas,
            "events": events, "episodes": episodes,
            "timelines": [{"phase": r["phase"], "repetition": r["repetition"], "doc": doc}
                          for r in runs for doc in r["episodes"]],
            "recorded": {"states": any(e["type"] == "state" for e in events), "observations": observations}}


def replay_page(lang: str) -> str:
    """The replay page in one language (templates/replay.html)."""
    return frontend.render_pages()[lang]["/replay"]


class ReplayServer:
    """`faultlab replay`: one run's replay page, its data and the page's static files; nothing else."""

    def __init__(self, run_dir: Path, lang: str) -> None:
        self.run_dir = run_dir
        self.runs = RunsFolder(run_dir.parent)
        self.lang = lang
        self.static_files = frontend.static_files()
        self.recording = recording(run_dir)  # read once: a bad folder fails before anything listens

    async def index(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(URL(f"/replay/{self.run_dir.name}").with_query(request.query))  # ?lang= kept

    async def page(self, request: web.Request) -> web.Response:
        if request.match_info["name"] != self.run_dir.name:
            raise ApiError(404, f"this server replays {self.run_dir.name} only")
        lang = frontend.page_language(request.query.get("lang"), request.cookies.get(frontend.LANG_COOKIE),
                                      self.lang, request.headers.get("Accept-Language"))
        return web.Response(text=replay_page(lang), content_type="text/html", headers={
            "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store", "Content-Language": lang})

    async def data(self, request: web.Request) -> web.Response:
        if request.match_info["name"] != self.run_dir.name:
            raise ApiError(404, f"this server replays {self.run_dir.name} only")
        return json_response(self.recording)

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in self.static_files:
            raise ApiError(404, f"no static file {name[:40]!r}")
        path, content_type = self.static_files[name]
        return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})

    def app(self) -> web.Application:
        """The server's routes (an aiohttp application)."""
        application = web.Application(middlewares=[errors_as_json])
        application.add_routes([web.get("/", self.index), web.get("/replay/{name}", self.page),
                                web.get("/api/replay/{name}", self.data), web.get("/static/{name}", self.static)])
        return application


@web.middleware
async def errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    """An ApiError as the dashboard answers it: its status and a JSON body with the message."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response({"error": str(exc)}, status=exc.status)
