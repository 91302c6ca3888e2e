"""A short experiment with `faultlab experiment --system FILE` against the guide's example system
(examples/guide-system, on free ports): the run ends with a report, and report.json and report.html name each of the
seven flaws its README lists — three replicas reserving in one table, the averaging vote, the wrong answer never
detected, the voter waiting for the slowest replica, the monitor's slow detection of latency, orders left PENDING,
and a fault endpoint that takes no credentials — and every fault faultlab injected is cleared at the end."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from faultlab.core.said import text_of
from tests.helpers import get_json
from tests.integration.test_guide_example import Example, example_env, new_run_folder, processes_in, run_sh

pytestmark = pytest.mark.timeout(240)  # the first use also installs the example's virtual environment
RUN_SH = Path(__file__).resolve().parents[2] / "examples" / "guide-system" / "run.sh"
LATENCY_MS = 1200  # the guide's latency phase: at or above it, every voted read waited for the slow replica
MONITOR_LATENCY_TTD_MS = 3 * 1000  # at least three timed-out 1 s checks in a row (README, flaw 5)


@pytest.fixture
async def example() -> AsyncIterator[Example]:
    """The example, up on free ports in its own run folder; stopped after the test whatever happened."""
    run = new_run_folder()
    env, base = example_env(run)
    installed = await run_sh(env, "install", timeout_s=200)
    assert installed.returncode == 0, installed.stderr
    started = await run_sh(env, "up", timeout_s=90)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Example(env, run, base)
    finally:
        await run_sh(env, "down", timeout_s=60)
        assert not processes_in(run)
        shutil.rmtree(run, ignore_errors=True)



def texts(said: list[Any]) -> list[str]:
    """Recorded sentences (core/said.py) as their English text."""
    return [text_of(m) for m in said]


def contract_of(example: Example) -> dict[str, Any]:
    """The example as a guide system: its free ports, `run.sh restart N` / `stop N` as its commands."""
    return {"name": "the guide's example system", "orders": {"url": example.orders},
            "monitor": {"url": example.monitor},
            "voter": {"url": example.voter, "items_path": "data.inventory",
                      "voted_one_path": "/inventory/voted/{product_id}"},
            "replicas": {"urls": [example.replica(n) for n in (1, 2, 3)],
                         "restart_command": f"{RUN_SH} restart {{n}}", "stop_command": f"{RUN_SH} stop {{n}}",
                         "start_command": f"{RUN_SH} restart {{n}}"}}


EXPERIMENT = {
    "version": 1, "title": "the example's flaws, short", "seed": 3, "repeat": 1, "reset": False,
    "load": {"target": "mix", "rate_rps": 20, "order_ratio": 0.3, "duration_s": 1.5, "settle_s": 0.5,
             "request_timeout_s": 5},
    "timeouts": {"detect_s": 12, "recover_s": 20, "steady_s": 20, "data_s": 4},
    "phases": [{"name": "baseline"},
               {"name": "latency", "fault": {"kind": "latency", "latency_ms": LATENCY_MS, "replicas": [2]}},
               {"name": "incorrect", "fault": {"kind": "incorrect", "product_id": "PROD-001", "replicas": [1]}}]}


async def run_experiment(example: Example, folder: Path) -> tuple[int, str, Path]:
    """`faultlab experiment --system FILE --file FILE` as a student would type it: exit code, output, run folder."""
    (folder / "system.yaml").write_text(yaml.safe_dump(contract_of(example)))
    (folder / "experiment.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    env = {**example.env, "FAULTLAB_HOME": str(folder / "home"), "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "experiment", "--system", str(folder / "system.yaml"), "--file",
        str(folder / "experiment.yaml"), "--runs-dir", str(folder / "runs"), "--lang", "en",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await asyncio.wait_for(proc.communicate(), 200))[0].decode()
    runs = [p for p in (folder / "runs").glob("*") if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, out
    assert proc.returncode is not None
    return proc.returncode, out, runs[0]


async def test_a_short_run_names_every_flaw_of_the_example(example: Example, tmp_path: Path,
                                                          http: aiohttp.ClientSession) -> None:
    """Each flaw of examples/guide-system/README.md shows in the report (findings, checks, misses), the run exits 1
    (thresholds and the data check fail) and leaves no fault on any replica."""
    code, out, run = await run_experiment(example, tmp_path)
    report = json.loads((run / "report.json").read_text())
    html = (run / "report.html").read_text()
    assert code == 1 and report.get("aborted") is None, out
    assert "the live dashboard: http://127.0.0.1:" in out  # watching the system while the run lasted
    by_phase = {r["phase"]: r for r in report["results"]}
    assert list(by_phase) == ["baseline", "latency", "incorrect"], out
    assert by_phase["baseline"]["passed"], by_phase["baseline"]["missed"]
    checks = report["data_check"]["checks"]
    assert report["data_check"]["checked_through"] == "api"

    # 1. one table for three replicas: every order reserved three times over
    reserved = checks["reserved_matches_orders"]
    assert reserved["valid"] is False and reserved["finding"]["code"] == "shared_table", reserved
    assert reserved["finding"]["params"]["factor"] == 3 and reserved["orders_accepted"] >= 1, reserved
    assert "every order is reserved 3 times over" in reserved["detail"] and "reserved 3 times over" in html

    # 2. the vote is an average: every voted read of the wrong product during the incorrect fault is wrong
    masked = checks["incorrect_masked"]
    assert masked["valid"] is False and masked["finding"]["code"] == "incorrect_wrong", masked
    # wrong, and never the faulty replica's own value: neither a majority's pick nor the outlier's, an average
    assert masked["wrong"] >= 1 and masked["faulty_value"] == 0, masked
    assert "returned a value no healthy replica served" in html

    # 3. a wrong answer is never detected: the incorrect phase is a miss, the monitor never said OFF
    incorrect = by_phase["incorrect"]
    assert not incorrect["passed"] and [e["ttd_ms"] for e in incorrect["episodes"]] == [None], incorrect
    assert "fault not detected (no TTD)" in texts(incorrect["missed"]), incorrect["missed"]
    assert "incorrect: fault not detected (no TTD)" in texts(report["verdict"]["missed"])

    # 4. the voter waits for the slowest replica: the voted reads during the latency fault took at least its latency
    latency = by_phase["latency"]
    reads = latency["during_fault"]["by_kind"]["read"]
    assert reads["requests"] >= 1 and reads["p50_latency_ms"] >= LATENCY_MS, reads
    assert any(m.startswith("p95 ") for m in texts(latency["missed"])), latency["missed"]

    # 5. the monitor takes seconds to see a slow replica (three 1 s timeouts, one replica after another); faultlab's
    # detectors on the observer's probes of the same episode stand beside it
    [episode] = latency["episodes"]
    assert episode["ttd_ms"] is not None and episode["ttd_ms"] >= MONITOR_LATENCY_TTD_MS, episode
    assert any(m.startswith("TTD ") for m in texts(latency["missed"])), latency["missed"]
    assert episode["observer_detected_at"] is not None and episode["ttd_ms_by_detector"], episode

    # 6. orders never leave PENDING
    pending = checks["orders_leave_pending"]
    assert pending["valid"] is False and pending["finding"]["code"] == "orders_pending", pending
    assert pending["undecided"] == pending["checked"] >= 1, pending
    assert "still undecided (PENDING)" in html

    # 7. anyone can inject a fault: the check says each fault endpoint took a request without credentials
    missing = report["experiment_info"]["system"]["check"]["missing"]
    assert sum("to a request without credentials" in m for m in missing) == 3, missing
    assert html.count("to a request without credentials: anyone who can reach it can inject a fault") == 3
    assert html.count("a una petición sin credenciales: cualquiera que la alcance puede inyectar un fallo") == 3

    for n in (1, 2, 3):  # every fault faultlab injected is cleared
        _status, health = await get_json(http, f"{example.replica(n)}/health")
        assert health["failure_injected"] is False, (n, health)
