"""Operator endpoints refuse callers without the token and change nothing; services listen on loopback only."""

from __future__ import annotations

import aiohttp
import asyncpg
import psutil
import pytest

from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json


def protected(lab: Supervisor) -> list[tuple[str, str, object]]:
    s = lab.settings
    calls: list[tuple[str, str, object]] = []
    for r in s.replica_ids:
        base = s.replica_url(r)
        calls += [("POST", f"{base}/faults", {"kind": "crash"}), ("DELETE", f"{base}/faults", None),
                  ("GET", f"{base}/faults", None), ("POST", f"{base}/inject-failure", {"failure_type": "crash"})]
    calls.append(("POST", f"{s.service_url('monitor')}/reports",
                  {"observations": [{"replica": 1, "kind": "process_exit", "ok": False, "at": 1.0}]}))
    calls.append(("POST", f"{s.service_url('orders')}/restocks", {"product_id": "PROD-001", "quantity": 5}))
    calls += [("POST", f"{s.service_url('monitor')}/trace", {"lease_s": 5}),
              ("GET", f"{s.service_url('monitor')}/trace", None), ("DELETE", f"{s.service_url('monitor')}/trace", None)]
    sup = f"http://127.0.0.1:{s.supervisor_port}"
    calls += [("POST", f"{sup}/processes/inventory-1/kill", None), ("POST", f"{sup}/processes/inventory-1/restart", None),
              ("POST", f"{sup}/reset", None), ("POST", f"{sup}/shutdown", None)]
    return calls


async def restocks(lab: Supervisor) -> int:
    conn = await asyncpg.connect(lab.settings.dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders.outbox WHERE event_type = 'restock'"))
    finally:
        await conn.close()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"X-Admin-Token": ""},
                                     {"Authorization": "Basic x"}])
async def test_operator_endpoints_answer_401_and_change_nothing(settled: Supervisor, http: aiohttp.ClientSession,
                                                                headers: dict[str, str]) -> None:
    """Every fault and admin endpoint: 401 without the right token; no fault, no kill, no state change."""
    lab = settled
    pids = {name: p.pid for name, p in lab.processes.items()}
    restocks_before = await restocks(lab)
    _status, before = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    for method, url, body in protected(lab):
        async with http.request(method, url, json=body, headers=headers) as resp:
            assert resp.status == 401, (method, url)
            assert "token" in (await resp.json())["error"]
    for r in lab.settings.replica_ids:
        _s, faults = await get_json(http, f"{lab.settings.replica_url(r)}/faults", headers=auth(lab))
        assert faults["faults"] == []
    assert {name: p.pid for name, p in lab.processes.items()} == pids
    assert await restocks(lab) == restocks_before, "a restock without the token was stored"
    _status, after = await get_json(http, f"{lab.settings.service_url('monitor')}/status")
    assert [i["transitions"] for i in after["instances"]] == [i["transitions"] for i in before["instances"]]


async def test_bad_fault_parameters_are_400_and_inject_nothing(settled: Supervisor, http: aiohttp.ClientSession) -> None:
    """With the token but bad parameters: 400 with a message, and no fault becomes active."""
    url = f"{settled.settings.replica_url(2)}/faults"
    for body in ({"kind": "latency", "latency_ms": -5}, {"kind": "nope"}, {"kind": "intermittent", "probability": 2},
                 {"kind": "incorrect", "delta": "x"}):
        async with http.post(url, json=body, headers=auth(settled)) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]
    _s, faults = await get_json(http, url, headers=auth(settled))
    assert faults["faults"] == []


def test_every_service_listens_on_loopback_only(lab: Supervisor) -> None:
    """No socket of the lab's processes listens on a non-loopback address."""
    listening = []
    for managed in lab.processes.values():
        if managed.pid is None:
            continue
        proc = psutil.Process(managed.pid)
        for p in [proc, *proc.children(recursive=True)]:
            try:
                conns = p.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            listening += [(managed.spec.name, c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening
    assert all(ip in ("127.0.0.1", "::1") for _name, ip in listening), listening


async def test_the_embedded_database_accepts_only_the_labs_credentials(lab: Supervisor) -> None:
    """Without the lab's password (TCP or unix socket) or with a wrong one, PostgreSQL refuses the connection;
    the password is not in lab.json, and its file is the lab user's only."""
    import asyncpg

    s = lab.settings
    socket_dir = lab.home / "postgres" / "pgsock"
    attempts = [
        {"dsn": f"postgresql://postgres@127.0.0.1:{s.postgres_port}/{s.db_name}"},
        {"dsn": f"postgresql://postgres:wrong@127.0.0.1:{s.postgres_port}/{s.db_name}"},
        {"host": str(socket_dir), "port": s.postgres_port, "user": "postgres", "database": s.db_name},
    ]
    for attempt in attempts:
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
            conn = await asyncpg.connect(**attempt, timeout=5)  # type: ignore[arg-type]
            await conn.close()
    conn = await asyncpg.connect(s.dsn, timeout=5)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
    assert s.db_password and s.db_password not in (lab.home / "lab.json").read_text()
    assert (lab.home / "db-password").stat().st_mode & 0o077 == 0
