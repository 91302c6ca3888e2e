"""Faults on a guide system: through its replicas' `/inject-failure` (the guide's body and kind names, or the
contract's), or with `inject: proxy` through faultlab's fault proxy in front of them; a crash's recovery and two-down
through the system's own commands — and the rollback that undoes all of it, however the run ends.

Times: a fault is active from its acknowledgement (a crash: the request that killed the replica, answered or cut
off); a clear from its acknowledgement; a stop from when the observer last saw the replica answer before it went
down (ground truth: a command's own start-up is not the system's doing), and a restart or a start clears from the
moment its command starts. Every one is told to the observer, whose episodes give TTD and TTR.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import TOKEN_FILE, Settings
from faultlab.core.messages import Refused
from faultlab.core.messages.system import SystemContract
from faultlab.core.said import Said
from faultlab.lab.observer import Observer
from faultlab.lab.systems.base import Cleared, Injected
from faultlab.lab.systems.commands import CommandRun, run_command
from faultlab.lab.systems.contract import expand_headers, fill
from faultlab.lab.systems.proxy import ProxyClient, ProxyError, running_proxy

STOP = "stop"
CRASH = "crash"
PROXY_KINDS = ("crash", "latency", "intermittent", "incorrect", "hang")  # faultlab's kinds the fault proxy can put on
DOWN_WAIT_S = 1.0  # after a stop command: how long the observer may take to see the replica down


class GuideFaults:
    """What the lab injected on a guide system and has not undone yet: kinds per replica, stopped and crashed ones."""

    def __init__(self, contract: SystemContract, client: LabClient, observer: Observer) -> None:
        self.contract = contract
        self.client = client
        self.observer = observer
        self.proxy: ProxyClient | None = None  # inject: proxy — faults on the traffic, from in front of each replica
        self.active: dict[int, set[str]] = {}  # kinds injected and not cleared, per replica
        self.touched: set[int] = set()  # every replica a fault was sent to (the rollback clears them all)
        self.stopped: set[int] = set()
        self.crashed: set[int] = set()  # crashed and not brought back

    def body(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """The `/inject-failure` body of a fault: the template with the system's kind name, plus the parameters it
        knows (under its own names)."""
        replicas = self.contract.replicas
        body = fill(replicas.inject_body, {"kind": replicas.kinds[kind]})
        body = dict(body) if isinstance(body, dict) else {}
        for name, value in params.items():
            if name in replicas.params:
                body[replicas.params[name]] = value
        return body

    async def _post(self, replica: int, body: dict[str, Any]) -> tuple[int, Any]:
        url = self.contract.replicas.urls[replica - 1] + self.contract.replicas.inject_path
        return await self.client.send("POST", url, body, timeout_s=self.contract.timeout_s)

    async def _command(self, template: str | None, replica: int) -> CommandRun:
        assert template is not None, "a command is run only where the contract gives it (the abilities say so)"
        return await run_command(template, replica, self.contract.replicas.command_timeout_s)

    # ---- inject -------------------------------------------------------------------------------------------------

    async def inject(self, kind: str, replicas: Sequence[int], params: dict[str, Any]) -> list[Injected]:
        """One fault on each replica at once; RuntimeError when the system refuses one."""
        if kind == STOP:
            return list(await asyncio.gather(*(self._stop(r) for r in replicas)))
        body = self.body(kind, params)
        return list(await asyncio.gather(*(self._inject(kind, r, body, params) for r in replicas)))

    async def _inject(self, kind: str, replica: int, body: dict[str, Any], params: dict[str, Any]) -> Injected:
        self.touched.add(replica)
        if kind == CRASH:
            self.crashed.add(replica)  # before the request: cut short, the rollback still restarts it
        sent_at = time.time()
        if self.proxy is not None:
            return await self._through_proxy(self.proxy, kind, replica, params, sent_at)
        try:
            status, answer = await self._post(replica, body)
        except ApiCallError as exc:
            if kind != CRASH:
                raise RuntimeError(f"{kind} on replica {replica}: no answer ({exc.error})") from None
            status, answer = None, {"cut_off": exc.error}  # the crash took the replica before it answered
        at = time.time()
        if status is not None and not 200 <= status < 300:
            self.crashed.discard(replica)
            raise RuntimeError(f"{kind} on replica {replica} refused: HTTP {status} {str(answer)[:200]}")
        self.active.setdefault(replica, set()).add(kind)
        fault = {"kind": kind, "params": params, "sent_as": body}
        self.observer.injected(replica, kind, fault, at, sent_at)
        return Injected(replica, at, sent_at, {"fault": {**fault, "activated_at": at}})

    async def _through_proxy(self, proxy: ProxyClient, kind: str, replica: int, params: dict[str, Any],
                             sent_at: float) -> Injected:
        """The fault put on the replica's traffic by the proxy in front of it (faultlab's own: its acknowledgement is
        when the fault took effect; a crash, when the kill was sent)."""
        try:
            answer = await proxy.inject_fault(replica, kind, params)
        except (ProxyError, Refused) as exc:
            self.crashed.discard(replica)
            raise RuntimeError(f"{kind} on replica {replica} refused by the fault proxy: {exc}") from None
        at = float(answer["activated_at"])
        self.active.setdefault(replica, set()).add(kind)
        fault = {"kind": kind, "params": params, "through": "proxy"}
        self.observer.injected(replica, kind, fault, at, sent_at)
        return Injected(replica, at, sent_at, {"fault": {**fault, "activated_at": at}})

    async def _stop(self, replica: int) -> Injected:
        """The stop command; the fault is active from when the observer last saw the replica answer before it went
        down (not before the command started; its end when the observer never saw it go down)."""
        self.stopped.add(replica)  # before the command: cut short, the rollback still starts it
        self.touched.add(replica)
        started_at = time.time()
        fault: dict[str, Any] = {"kind": STOP, "params": {}}
        self.observer.injected(replica, STOP, fault, started_at, started_at)  # polls during the command count
        run = await self._command(self.contract.replicas.stop_command, replica)
        if not run.ok:
            raise RuntimeError(f"stop of replica {replica} failed: {run.problem()}")
        alive = await self.observer.went_down(replica, run.started_at, max(0.0, run.ended_at + DOWN_WAIT_S
                                                                          - time.time()))
        activated = run.ended_at if alive is None else min(alive, run.ended_at)
        fault.update(command=run.command, stopped_at=run.ended_at, last_answered_at=alive)
        self.observer.activated(replica, activated)
        return Injected(replica, activated, started_at, {"stopping_at": run.started_at,
                                                             "stopped_at": run.ended_at, "activated_at": activated})

    # ---- clear and recover --------------------------------------------------------------------------------------

    async def clear(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        if kind == STOP:
            return list(await asyncio.gather(*(self._start(r) for r in replicas)))
        return list(await asyncio.gather(*(self._clear(r) for r in replicas)))

    async def _clear(self, replica: int) -> Cleared:
        if self.proxy is not None:
            try:
                at = await self.proxy.clear(replica)
            except ProxyError as exc:
                return Cleared(replica, None, f"replica {replica}: faults not cleared by the fault proxy ({exc})")
            self.active.pop(replica, None)
            self.observer.cleared(replica, at, time.time())
            return Cleared(replica, at)
        try:
            status, answer = await self._post(replica, self.body("clear", {}))
        except ApiCallError as exc:
            return Cleared(replica, None, f"replica {replica}: faults not cleared ({exc.error})")
        at = time.time()
        if not 200 <= status < 300:
            return Cleared(replica, None, f"replica {replica}: clear refused: HTTP {status} {str(answer)[:200]}")
        self.active.pop(replica, None)
        self.observer.cleared(replica, at, at)
        return Cleared(replica, at)

    async def _start(self, replica: int) -> Cleared:
        run = await self._command(self.contract.replicas.start_command, replica)
        if not run.ok:
            return Cleared(replica, None, f"start of replica {replica} failed: {run.problem()}")
        self.stopped.discard(replica)
        self.observer.cleared(replica, run.started_at, run.ended_at)
        return Cleared(replica, run.started_at)

    async def recover(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        """A crashed replica brought back by the restart command (nothing where there is none)."""
        if kind != CRASH or self.contract.replicas.restart_command is None:
            return []
        return list(await asyncio.gather(*(self._restart(r) for r in replicas)))

    async def _restart(self, replica: int) -> Cleared:
        run = await self._command(self.contract.replicas.restart_command, replica)
        if not run.ok:
            return Cleared(replica, None, f"restart of replica {replica} failed: {run.problem()}")
        self.crashed.discard(replica)
        self.active.pop(replica, None)
        self.observer.cleared(replica, run.started_at, run.ended_at)
        return Cleared(replica, run.started_at)

    # ---- rollback ------------------------------------------------------------------------------------------------

    async def rollback(self, timeline: list[dict[str, Any]]) -> list[Said | str]:
        """Crashed replicas restarted, stopped ones started, and a clear sent to every replica a fault was sent to;
        what could not be done."""
        problems: list[Said | str] = []
        crashed, stopped = sorted(self.crashed), sorted(self.stopped)
        if crashed and self.contract.replicas.restart_command is None:
            problems += [f"replica {r} crashed and the system has no restart command: it stays down" for r in crashed]
            crashed = []
        restarted = await asyncio.gather(*(self._restart(r) for r in crashed))
        started = await asyncio.gather(*(self._start(r) for r in stopped))
        for cleared, event in [*((c, "process_restarted") for c in restarted),
                               *((c, "process_started") for c in started)]:
            if cleared.problem is not None:
                problems.append(cleared.problem)
            else:
                timeline.append({"at": cleared.cleared_at, "event": event, "replica": cleared.replica,
                                 "rollback": True})
        if self.proxy is not None:  # every fault on every replica's traffic, whatever this run knows of
            try:
                await self.proxy.reset()
            except ProxyError as exc:
                problems.append(f"the fault proxy did not clear its faults: {exc}")
        reachable = sorted(self.touched - self.crashed - self.stopped)
        had = {r: bool(self.active.get(r)) for r in reachable}
        for cleared in await asyncio.gather(*(self._clear(r) for r in reachable)):
            if cleared.problem is not None:
                problems.append(cleared.problem)
            elif had[cleared.replica]:
                timeline.append({"at": cleared.cleared_at, "event": "fault_cleared", "replica": cleared.replica,
                                 "rollback": True})
        return problems


async def open_proxy(contract: SystemContract, settings: Settings,
                     environ: dict[str, str] | None = None) -> tuple[ProxyClient | None, dict[str, Any]]:
    """The fault proxy `inject: proxy` steers (the contract's control URL, else the one `faultlab system proxy` runs
    from the lab folder) with its replicas, or None and why not; what the check says of it."""
    found: dict[str, Any] = {"url": contract.proxy.control_url, "ok": False, "problem": None, "replicas": []}
    if found["url"] is None:
        state = running_proxy(settings.home)
        found["url"] = state["control_url"] if state else None
    if found["url"] is None:
        found["problem"] = f"no fault proxy runs from the lab folder {settings.home}"
        return None, found
    token = contract.proxy.token
    if token is not None:
        token = expand_headers({"token": token}, environ)["token"]
    else:
        with contextlib.suppress(OSError):
            token = settings.admin_token or (Path(settings.home) / TOKEN_FILE).read_text().strip()
    client = ProxyClient(found["url"], token or "")
    try:
        await client.start()
        found["replicas"] = await client.describe()
    except ProxyError as exc:
        await client.stop()
        found["problem"] = str(exc)
        return None, found
    found["ok"] = True
    return client, found
