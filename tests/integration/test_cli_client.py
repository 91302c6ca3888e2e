"""The operator's CLI (`status`, `inject`, `clear`) against the running lab, through the lab's API client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import pytest

from faultlab import cli
from faultlab.core import i18n
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cli_env(settled: Supervisor, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    """The CLI pointed at the session lab's folder, in English; the environment and language restored after."""
    monkeypatch.setenv("FAULTLAB_HOME", str(settled.home))
    monkeypatch.setenv("FAULTLAB_LANG", "en")
    monkeypatch.setenv("LANGUAGE", "en")
    monkeypatch.delenv("FAULTLAB_ADMIN_TOKEN", raising=False)
    before = i18n.active()
    yield settled
    i18n.activate(before)


async def run_cli(*argv: str) -> int:
    """`faultlab ARGV` in a thread (the CLI runs its own event loop), its exit status."""
    return await asyncio.to_thread(cli.main, list(argv))


async def replica_faults(http: aiohttp.ClientSession, lab: Supervisor, replica: int) -> list[str]:
    status, body = await get_json(http, f"{lab.settings.replica_url(replica)}/faults", headers=auth(lab))
    assert status == 200
    return [f["kind"] for f in body["faults"]]


async def test_status_json_lists_every_process_and_replica(cli_env: Supervisor, capsys: pytest.CaptureFixture[str]) -> None:
    """`faultlab status --json` prints the supervisor's processes and the monitor's instances of the running lab."""
    assert await run_cli("status", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    names = {p["name"] for p in data["processes"]["processes"]}
    assert {"orders", "monitor", "voter", "dashboard"} | {f"inventory-{r}" for r in cli_env.settings.replica_ids} \
        <= names
    assert sorted(i["replica"] for i in data["monitor"]["instances"]) == cli_env.settings.replica_ids


async def test_status_table_fits_80_columns(cli_env: Supervisor, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`faultlab status` in an 80-column terminal prints every replica with no line longer than 80."""
    monkeypatch.setenv("COLUMNS", "80")
    assert await run_cli("status") == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    for r in cli_env.settings.replica_ids:
        assert f"inventory-{r}" in out


async def test_inject_then_clear_changes_the_replicas_faults(cli_env: Supervisor, http: aiohttp.ClientSession,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`inject latency` puts a latency fault on that replica only, and `clear` takes it away again."""
    assert await run_cli("inject", "latency", "--instance", "2", "--latency_ms", "5") == 0
    assert await replica_faults(http, cli_env, 2) == ["latency"]
    assert await replica_faults(http, cli_env, 1) == []
    assert await run_cli("clear", "--instance", "2") == 0
    assert await replica_faults(http, cli_env, 2) == []
    assert "cleared latency" in capsys.readouterr().out


async def test_a_wrong_token_is_refused_with_the_servers_message(cli_env: Supervisor, http: aiohttp.ClientSession,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With a wrong operator token `inject` exits 2 showing the 401, and the replica has no fault."""
    monkeypatch.setenv("FAULTLAB_ADMIN_TOKEN", "not-the-token")
    assert await run_cli("inject", "latency", "--instance", "1", "--latency_ms", "5") == 2
    assert "HTTP 401" in " ".join(capsys.readouterr().out.split())
    assert await replica_faults(http, cli_env, 1) == []
