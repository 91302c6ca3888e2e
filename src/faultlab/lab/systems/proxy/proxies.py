"""`FaultProxy`: a fault proxy in front of each replica, steered in-process (the control API and the CLI use it)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import aiohttp

from faultlab.core.log import Logger, get_logger
from faultlab.faults.proxy import ProxyCrash, ProxyFault, parse_proxy_params, proxy_kind
from faultlab.lab.systems.proxy.server import ProxyError, ReplicaProxy, Upstream

EventHook = Callable[[str, dict[str, Any]], None]
ANY_ADDRESS = ("0.0.0.0", "::", "")


class UnknownReplica(ProxyError):
    """A replica the proxy does not stand in front of."""


class FaultProxy:
    """A proxy per replica (`upstreams`: replica → base URL), each on `host` and its port in `ports` (0 or left out:
    a free one). `start()` before use, `stop()` after (safe twice; it clears every fault and closes every port)."""

    def __init__(self, upstreams: Mapping[int, str], host: str = "127.0.0.1", ports: Mapping[int, int] | None = None,
                 seed: int | None = None, pids: Mapping[int, int | str | Path] | None = None,
                 log: Logger | None = None, on_event: EventHook | None = None) -> None:
        if not upstreams:
            raise ProxyError("no replica to stand in front of: give at least one upstream")
        ports = dict(ports or {})
        unknown = sorted(set(ports) - set(upstreams))
        if unknown:
            raise ProxyError(f"ports given for replicas without an upstream: {unknown}")
        self.host = host
        self.seed = seed
        self.pids = dict(pids or {})
        self.log = log or get_logger("proxy")
        self.on_event = on_event
        self._proxies = {r: ReplicaProxy(r, host, ports.get(r, 0), Upstream.parse(url), self.log.bind(replica=r))
                         for r, url in sorted(upstreams.items())}
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on every replica's port; ProxyError (and nothing left listening) when one cannot."""
        try:
            for proxy in self._proxies.values():
                await proxy.start()
        except BaseException:
            await self.stop()
            raise
        self._started = True
        self.log.info("proxy_started", replicas=",".join(f"{r}={p.host}:{p.port}>{p.upstream.url}"
                                                         for r, p in self._proxies.items()))

    async def stop(self) -> None:
        for proxy in self._proxies.values():
            await proxy.stop()
        if self._started:
            self._started = False
            self.log.info("proxy_stopped")

    # ---- where -----------------------------------------------------------------------------------------------------

    @property
    def replicas(self) -> list[int]:
        return list(self._proxies)

    def _proxy(self, replica: int) -> ReplicaProxy:
        proxy = self._proxies.get(replica)
        if proxy is None:
            raise UnknownReplica(f"no replica {replica} (known: {', '.join(map(str, self._proxies))})")
        return proxy

    def port(self, replica: int) -> int:
        return self._proxy(replica).port

    def address(self, replica: int, host: str | None = None) -> str:
        """The base URL that reaches `replica` through its proxy (from this machine, or via `host`)."""
        if host is None:
            host = "127.0.0.1" if self.host in ANY_ADDRESS else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port(replica)}"

    def upstream(self, replica: int) -> str:
        return self._proxy(replica).upstream.url

    # ---- faults ----------------------------------------------------------------------------------------------------

    async def inject(self, replica: int, kind: str, params: Mapping[str, Any] | None = None) -> float:
        """Put a fault on `replica`'s traffic; when it took effect (the moment of the kill for a crash)."""
        answer = await self.inject_fault(replica, kind, params)
        return float(answer["activated_at"])

    async def inject_fault(self, replica: int, kind: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """As `inject`, answered like a replica's `POST /faults`: {replica, fault, activated_at}. `Refused` for bad
        parameters, ProxyError for what cannot be done (no such replica, no process id for a crash)."""
        injected_at = time.time()
        proxy = self._proxy(replica)
        spec = proxy_kind(kind)
        parsed = parse_proxy_params(spec.kind, dict(params or {}))
        fault = spec.behaviour(parsed, self._seed_for(replica, spec.kind))
        fault.injected_at = injected_at
        if isinstance(fault, ProxyCrash):
            self._kill(replica, fault)
        else:
            await proxy.add(fault)
        self.log.warning("fault_injected", replica=replica, kind=fault.kind, params=fault.describe()["params"])
        self._event("fault_injected", replica, fault)
        return {"replica": replica, "fault": fault.describe(), "activated_at": fault.activated_at}

    async def clear(self, replica: int, kind: str | None = None) -> float:
        """Clear one kind (every fault when None) on `replica`; when it was cleared."""
        answer = await self.clear_faults(replica, kind)
        return float(answer["cleared_at"])

    async def clear_faults(self, replica: int, kind: str | None = None) -> dict[str, Any]:
        """As `clear`, answered like a replica's `DELETE /faults`: {replica, cleared, cleared_at}."""
        proxy = self._proxy(replica)
        name = None if kind is None else proxy_kind(kind).kind
        cleared = await proxy.remove(name)
        now = time.time()
        for fault in cleared:
            fault.cleared_at = now
            self.log.warning("fault_cleared", replica=replica, kind=fault.kind)
            self._event("fault_cleared", replica, fault)
        return {"replica": replica, "cleared": [f.describe() for f in cleared], "cleared_at": now}

    async def reset(self) -> list[dict[str, Any]]:
        """Clear every fault on every replica (Toxiproxy's reset)."""
        return [await self.clear_faults(replica) for replica in self._proxies]

    def faults(self, replica: int) -> list[dict[str, Any]]:
        return [f.describe() for f in self._proxy(replica).faults.values()]

    def describe(self) -> list[dict[str, Any]]:
        """Each replica: where it listens, where it forwards, its faults and counters."""
        return [{**p.describe(), "address": self.address(r), "pid": _shown(self.pids.get(r))}
                for r, p in self._proxies.items()]

    def _seed_for(self, replica: int, kind: str) -> int | None:
        """The proxy's seed (`--seed`) made particular to a replica and kind: a run repeats fault for fault."""
        if self.seed is None:
            return None
        digest = hashlib.sha256(f"{self.seed}:{replica}:{kind}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def _kill(self, replica: int, fault: ProxyCrash) -> None:
        pid = self._pid(replica)
        fault.activated_at = time.time()  # the acknowledgement of a crash is the request that kills it
        try:
            fault.kill(pid)
        except ProcessLookupError:
            raise ProxyError(f"replica {replica}: no process {pid} (it has already exited?)") from None
        except PermissionError:
            raise ProxyError(f"replica {replica}: process {pid} is not ours to signal") from None

    def _pid(self, replica: int) -> int:
        given = self.pids.get(replica)
        if given is None:
            raise ProxyError(f"replica {replica} has no process id: a crash needs one (--pid {replica}=PID, or a "
                             f"pid file)")
        if isinstance(given, int):
            return given
        try:
            text = Path(given).read_text().strip()
        except OSError as exc:
            raise ProxyError(f"replica {replica}: cannot read the pid file {given}: {exc.strerror}") from None
        pid = _pid_in(text)
        if pid is None:
            raise ProxyError(f"replica {replica}: the pid file {given} holds no process id")
        return pid

    def _event(self, name: str, replica: int, fault: ProxyFault, **fields: Any) -> None:
        if self.on_event is not None:
            self.on_event(name, {"replica": replica, **fault.describe(), **fields})

    # ---- the replicas behind ---------------------------------------------------------------------------------------

    async def probe_upstreams(self, path: str = "/health", timeout_s: float = 2.0) -> dict[int, str | None]:
        """Each replica's problem when asked `path` directly (None when it answered, whatever its status)."""
        found: dict[int, str | None] = {}
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for replica, proxy in self._proxies.items():
                try:
                    async with session.get(proxy.upstream.url + path) as answer:
                        await answer.read()
                    found[replica] = None
                except aiohttp.ClientConnectorError as exc:
                    found[replica] = exc.os_error.strerror or str(exc.os_error)
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    found[replica] = str(exc) or type(exc).__name__
        return found


def _pid_in(text: str) -> int | None:
    """The process id a pid file holds: its number, or the `pid` of a JSON object."""
    if not text.isdigit():
        try:
            data = json.loads(text)
        except ValueError:
            return None
        text = str(data.get("pid", "")) if isinstance(data, dict) else ""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 1 else None


def _shown(pid: int | str | Path | None) -> int | str | None:
    return None if pid is None else pid if isinstance(pid, int) else os.fspath(pid)
