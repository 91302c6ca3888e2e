"""`ProxyClient`: a fault proxy another process runs (`faultlab system proxy`), steered over its control API with
`FaultProxy`'s fault methods; `running_proxy` finds it from the lab folder (`proxy.json`, written while it runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import aiohttp

from faultlab.lab.systems.proxy.server import ProxyError

STATE_FILE = "proxy.json"  # in the lab folder while `faultlab system proxy` runs: no secrets


def running_proxy(home: Path) -> dict[str, Any] | None:
    """What the proxy running from this lab folder wrote (control_url, pid, replicas), or None."""
    try:
        state = json.loads((Path(home) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("control_url"), str) else None


class ProxyClient:
    """The control API at `control_url`, with the operator's `token`; `start()` before use, `stop()` after."""

    def __init__(self, control_url: str, token: str, timeout_s: float = 5.0) -> None:
        self.url = control_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._replicas: dict[int, dict[str, Any]] = {}

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the session and read the replicas (ProxyError when the proxy does not answer)."""
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            answer = await self._call("GET", "/replicas")
        except BaseException:
            await self.stop()
            raise
        self._replicas = {int(r["replica"]): r for r in answer["replicas"]}

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def replicas(self) -> list[int]:
        return list(self._replicas)

    def address(self, replica: int) -> str:
        """The base URL that reaches `replica` through its proxy from this machine."""
        if replica not in self._replicas:
            raise ProxyError(f"no replica {replica} behind the proxy at {self.url}")
        return str(self._replicas[replica]["address"])

    async def inject(self, replica: int, kind: str, params: dict[str, Any] | None = None) -> float:
        return float((await self.inject_fault(replica, kind, params))["activated_at"])

    async def inject_fault(self, replica: int, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._call("POST", f"/replicas/{replica}/faults", {**(params or {}), "kind": kind})

    async def clear(self, replica: int, kind: str | None = None) -> float:
        return float((await self.clear_faults(replica, kind))["cleared_at"])

    async def clear_faults(self, replica: int, kind: str | None = None) -> dict[str, Any]:
        query = f"?kind={kind}" if kind is not None else ""
        return await self._call("DELETE", f"/replicas/{replica}/faults{query}")

    async def reset(self) -> list[dict[str, Any]]:
        return list((await self._call("POST", "/reset"))["replicas"])

    async def describe(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/replicas"))["replicas"])

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._session is None:
            raise ProxyError("the client is not started")
        try:
            async with self._session.request(method, self.url + path, json=body) as answer:
                data = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProxyError(f"the fault proxy at {self.url} did not answer {method} {path}: "
                             f"{exc or type(exc).__name__}") from None
        if answer.status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            raise ProxyError(f"the fault proxy refused {method} {path} ({answer.status}): {error}")
        if not isinstance(data, dict):
            raise ProxyError(f"the fault proxy answered {method} {path} with no JSON object")
        return data
