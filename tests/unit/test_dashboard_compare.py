"""The dashboard serves the fault registry to its form, and compares runs of its runs folder: as JSON and as the
same self-contained page `faultlab compare` writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from aiohttp.test_utils import TestClient

from faultlab.faults.registry import kinds
from tests.unit.test_frontend_files import client  # noqa: F401  (the dashboard app on a test server)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "runs"


async def test_the_form_is_served_every_kind_in_the_pages_language(client: TestClient) -> None:  # noqa: F811
    """GET /api/fault-kinds lists every registered kind with its form fields and words; an unknown lang is a 400."""
    resp = await client.get("/api/fault-kinds?lang=es")
    assert resp.status == 200
    served = (await resp.json())["kinds"]
    assert [k["kind"] for k in served] == list(kinds())
    slow = next(k for k in served if k["kind"] == "slow-apply")
    assert slow["form"] == ["seed", "delay_ms"] and slow["summary"].startswith("aplica cada evento")
    assert (await client.get("/api/fault-kinds?lang=fr")).status == 400


async def test_two_ticked_runs_open_their_comparison(client: TestClient, tmp_path: Path) -> None:  # noqa: F811
    """/api/compare answers the comparison of runs in the runs folder (three repetitions each: too few to judge),
    /compare the page in the asked language; fewer than two runs, or an unknown one, is a 4xx."""
    shutil.copytree(RECORDED, tmp_path / "runs")
    names = ",".join(sorted(p.name for p in RECORDED.iterdir()))
    resp = await client.get(f"/api/compare?runs={names}")
    assert resp.status == 200
    data = await resp.json()
    assert [r["name"] for r in data["runs"]] == names.split(",") and data["rows"] and data["min_repetitions"] == 4
    assert {row["runs"][1]["verdict"] for row in data["rows"]} == {"too_few"}
    page = await client.get(f"/compare?runs={names}&lang=es")
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Language"] == "es" and "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = await page.text()
    assert "comparación de faultlab" in text and "demasiado pocas repeticiones para juzgar: 3 y 3" in text
    for bad, status in ((names.split(",")[0], 400), ("", 400), (f"{names},nope", 404), ("../etc,x", 400)):
        resp = await client.get(f"/api/compare?runs={bad}")
        assert resp.status == status and "error" in await resp.json(), bad
