"""The lab's own async API client: one session, the operator's token, timeouts, JSON, one error type.

The CLI, the experiment and study runners and their phases call the services through it. It knows the
services' addresses (from `Settings`) and the shape of their answers, nothing of how the lab is run: it imports
only the settings and the message models, so it can sit in the lowest layer. The voter's fan-out client stays
hand-written (measured and fuzzed on its own).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

import aiohttp
import orjson
from pydantic import BaseModel

from faultlab.core.config import Settings

RETRIABLE_STATUSES = frozenset({408, 425, 429, 502, 503, 504})


class ApiCallError(RuntimeError):
    """A call that did not succeed: `status` is the HTTP status (None when no answer came) and `error` the server's
    `error` message, or what went wrong on the way."""

    def __init__(self, status: int | None, error: str, body: Any = None, url: str = "") -> None:
        super().__init__(f"HTTP {status}: {error}" if status is not None else error)
        self.status = status
        self.error = error
        self.body = body
        self.url = url

    @property
    def retriable(self) -> bool:
        """Whether the same call may succeed later (no answer, a timeout, or a status that says "try again")."""
        return self.status is None or self.status in RETRIABLE_STATUSES


class Unreachable(ApiCallError):
    """No answer: nothing listens at the address, the connection broke, or the timeout passed."""

    def __init__(self, url: str, reason: str, timed_out: bool = False) -> None:
        super().__init__(None, f"{url}: {reason}", url=url)
        self.reason = reason
        self.timed_out = timed_out


class HttpCall(Protocol):
    """A request described as data (a fault kind's inject/clear call): method, url, JSON body, timeout."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def body(self) -> dict[str, Any] | None: ...
    @property
    def timeout_s(self) -> float: ...


def error_message(body: Any) -> str:
    """The server's `error` field, else the body itself, as one line."""
    if isinstance(body, dict) and body.get("error") is not None:
        return str(body["error"])
    return str(body) if body not in (None, "") else "no message"


def decode(raw: bytes) -> Any:
    """A JSON body decoded, None when empty; text (replacement characters for bad bytes) when it is not JSON."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


class LabClient:
    """Calls the running lab's services. `async with LabClient(settings) as client:` or `start()`/`stop()`; a session
    passed in is used and left open (the caller owns it)."""

    def __init__(self, settings: Settings, timeout_s: float = 5.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._session = session
        self._owns_session = session is None

    # ---- life cycle -------------------------------------------------------------------------------

    async def start(self) -> LabClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        return self

    async def stop(self) -> None:
        """Close the session this client opened (safe to call twice)."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> LabClient:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ---- addresses --------------------------------------------------------------------------------

    @property
    def supervisor(self) -> str:
        return f"http://127.0.0.1:{self.settings.supervisor_port}"

    def url(self, service: str, path: str = "") -> str:
        """`service`'s base URL ("orders", "monitor", "voter", "dashboard", "supervisor", "inventory-2") + path."""
        if service == "supervisor":
            base = self.supervisor
        elif service.startswith("inventory-"):
            base = self.settings.replica_url(int(service.removeprefix("inventory-")))
        else:
            base = self.settings.service_url(service)
        return base + path

    def replica(self, instance: int) -> str:
        """A replica's base URL; ValueError for a replica this lab does not have."""
        if instance not in self.settings.replica_ids:
            raise ValueError(f"--instance must be one of {self.settings.replica_ids}")
        return self.settings.replica_url(instance)

    # ---- requests ---------------------------------------------------------------------------------

    async def send(self, method: str, url: str, body: Any = None, *, auth: bool = False,
                   timeout_s: float | None = None) -> tuple[int, Any]:
        """The status and decoded body, whatever the status; `Unreachable` when no answer came in time."""
        if self._session is None:
            raise RuntimeError("LabClient used before start() (or `async with`)")
        headers = {"Accept": "application/json"}
        if auth:
            if not self.settings.admin_token:
                raise ApiCallError(401, "no operator token: start the lab or set FAULTLAB_ADMIN_TOKEN", url=url)
            headers["Authorization"] = f"Bearer {self.settings.admin_token}"
        data = None
        if body is not None:
            payload = body.model_dump(mode="json", exclude_none=True) if isinstance(body, BaseModel) else body
            data = orjson.dumps(payload)
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=self.timeout_s if timeout_s is None else timeout_s)
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as resp:
                return resp.status, decode(await resp.read())
        except TimeoutError:
            raise Unreachable(url, f"no answer in {timeout.total:g} s", timed_out=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Unreachable(url, str(exc) or type(exc).__name__) from None

    async def request(self, method: str, url: str, body: Any = None, *, auth: bool = False,
                      timeout_s: float | None = None) -> Any:
        """The decoded JSON answer of a call that succeeded (2xx); `ApiCallError` with the server's message otherwise,
        and for a 2xx answer that is not JSON."""
        status, answer = await self.send(method, url, body, auth=auth, timeout_s=timeout_s)
        if not 200 <= status < 300:
            raise ApiCallError(status, error_message(answer), answer, url=url)
        if isinstance(answer, str):
            raise ApiCallError(status, f"the answer is not JSON: {answer[:200]!r}", answer, url=url)
        return answer

    async def send_call(self, call: HttpCall, *, auth: bool = True) -> tuple[int, Any]:
        """`send` for a request described as data (a fault kind's inject or clear), with its own timeout."""
        return await self.send(call.method, call.url, call.body, auth=auth, timeout_s=call.timeout_s)

    async def call(self, call: HttpCall, *, auth: bool = True) -> Any:
        """A request described as data (a fault kind's inject or clear), with its own timeout."""
        return await self.request(call.method, call.url, call.body, auth=auth, timeout_s=call.timeout_s)

    # ---- the calls the lab makes ------------------------------------------------------------------

    async def health(self, service: str) -> Any:
        return await self.request("GET", self.url(service, "/health"))

    async def inject(self, instance: int, fault: dict[str, Any]) -> Any:
        return await self.request("POST", f"{self.replica(instance)}/faults", fault, auth=True)

    async def clear(self, instance: int, kind: str | None = None, timeout_s: float | None = None) -> Any:
        suffix = f"?kind={kind}" if kind else ""
        return await self.request("DELETE", f"{self.replica(instance)}/faults{suffix}", auth=True,
                                  timeout_s=timeout_s)

    async def monitor_status(self) -> Any:
        return await self.request("GET", self.url("monitor", "/status"))

    async def failures(self) -> Any:
        return await self.request("GET", self.url("monitor", "/failures"))

    async def voting_stats(self) -> Any:
        return await self.request("GET", self.url("voter", "/voting/stats"))

    async def processes(self) -> Any:
        return await self.request("GET", self.url("supervisor", "/processes"))

    async def restart(self, name: str) -> Any:
        return await self.request("POST", self.url("supervisor", f"/processes/{name}/restart"), auth=True)

    async def start_process(self, name: str) -> Any:
        return await self.request("POST", self.url("supervisor", f"/processes/{name}/start"), auth=True)

    async def reset(self, body: BaseModel | dict[str, Any] | None = None, timeout_s: float = 120.0) -> Any:
        """The supervisor's reset (`ResetRequest`): fresh data, or the services restarted with other settings."""
        return await self.request("POST", self.url("supervisor", "/reset"), body, auth=True, timeout_s=timeout_s)

    async def netfaults(self) -> Any:
        return await self.request("GET", self.url("supervisor", "/netfaults"), auth=True)

    async def clear_netfaults(self, instance: int | None = None, kind: str | None = None,
                              timeout_s: float | None = None) -> Any:
        query = "&".join(f"{k}={v}" for k, v in (("instance", instance), ("kind", kind)) if v is not None)
        return await self.request("DELETE", self.url("supervisor", "/netfaults" + (f"?{query}" if query else "")),
                                  auth=True, timeout_s=timeout_s)

    async def shutdown(self) -> Any:
        return await self.request("POST", self.url("supervisor", "/shutdown"), auth=True)


__all__ = ["ApiCallError", "HttpCall", "LabClient", "Unreachable", "decode", "error_message"]
