"""The fault proxy's kinds: faults put on a replica's HTTP traffic from in front of it, without the system's help.

Where a proxy fault is the same fault as a replica kind, its parameters are that kind's model (`latency_ms` and
`jitter_ms`, `probability`, `product_id` and `delta`, `seed`) plus `paths`, the request paths it acts on (prefixes;
every path when left out: `["/health"]` hits the monitor's checks only, `["/inventory"]` the data only). `refused`
(the port closed, or connections reset) and `crash` (a process killed by its id) are the proxy's own. Each kind's
behaviour is a small `ProxyFault` with the hooks it needs; the proxy (`lab/systems/proxy/`) calls them.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.faults.base import FaultParams
from faultlab.faults.hang import HangParams
from faultlab.faults.incorrect import IncorrectParams
from faultlab.faults.intermittent import IntermittentParams
from faultlab.faults.latency import LatencyParams
from faultlab.faults.registry import aliases

RESET = -1  # `on_request`'s verdict: reset the client's connection (the client sees ECONNRESET)
MAX_PATHS = 20
PATH_PATTERN = r"^/[^\s?#]{0,199}$"
FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}(\.[A-Za-z_][A-Za-z0-9_-]{0,63}){0,7}$"
PATHS_HELP = N_("request path prefixes the fault acts on (every path when left out)")
PathPrefix = Annotated[str, Field(pattern=PATH_PATTERN)]
Scalar = int | float | str | bool


def _paths() -> Any:
    return Field(default_factory=list, max_length=MAX_PATHS, description=PATHS_HELP)


class ProxyLatencyParams(LatencyParams):
    paths: list[PathPrefix] = _paths()


class ProxyHangParams(HangParams):
    paths: list[PathPrefix] = _paths()


class ProxyIntermittentParams(IntermittentParams):
    status: int = Field(500, ge=500, le=599, description=N_("the HTTP status of a failed request"))
    paths: list[PathPrefix] = _paths()


class ProxyIncorrectParams(IncorrectParams):
    field: str = Field("available_quantity", pattern=FIELD_PATTERN,
                       description=N_("the field rewritten in the product's JSON object (a.b for a nested one)"))
    product_key: str = Field("product_id", pattern=FIELD_PATTERN,
                             description=N_("the field that names a product in the answer"))
    value: Scalar | None = Field(None, description=N_("the value written instead of adding delta"))
    paths: list[PathPrefix] = _paths()

    @model_validator(mode="after")
    def _delta_or_value(self) -> ProxyIncorrectParams:
        if self.value is not None and "delta" in self.model_fields_set:
            raise ValueError("give delta or value, not both")
        return self


class RefusedParams(FaultParams):
    kind: Literal["refused"] = "refused"
    mode: Literal["refuse", "reset"] = Field(
        "refuse", description=N_("refuse: the port is closed (connection refused); reset: each request's "
                                 "connection is reset"))
    paths: list[PathPrefix] = Field(default_factory=list, max_length=MAX_PATHS,
                                    description=N_("reset mode only: the request paths whose connections are reset"))

    @model_validator(mode="after")
    def _paths_need_reset(self) -> RefusedParams:
        if self.paths and self.mode == "refuse":
            raise ValueError("paths need mode reset (a closed port refuses every request)")
        return self


class ProxyCrashParams(FaultParams):
    kind: Literal["crash"] = "crash"
    signal: Literal["KILL", "TERM", "INT"] = Field("KILL", description=N_("the signal sent to the replica's process"))


class ProxyFault:
    """One fault on one replica's proxy: when it was asked for, took effect and was cleared (wall times), and how
    many requests it acted on."""

    kind: ClassVar[str] = ""
    rewrites: ClassVar[bool] = False  # the proxy hands it each JSON answer (`rewrite`)

    def __init__(self, params: Any, seed: int | None = None) -> None:
        self.params = params
        self.seed = params.seed if getattr(params, "seed", None) is not None else seed
        self.rng = random.Random(self.seed)
        self.injected_at = 0.0  # when the proxy was asked for it
        self.activated_at = 0.0  # when it took effect: its acknowledgement
        self.cleared_at: float | None = None
        self.hits = 0
        self._prefixes: tuple[str, ...] = tuple(getattr(params, "paths", ()))
        self.closes_port = False  # the proxy stops listening while it is active

    def acts_on(self, path: str) -> bool:
        return not self._prefixes or path.startswith(self._prefixes)

    async def on_request(self, client_gone: Callable[[], Awaitable[None]]) -> int | None:
        """Run before a request is forwarded: None forwards it, a status answers it instead, RESET resets it."""
        return None

    def rewrite(self, answer: Any) -> int:
        """Rewrite a JSON answer in place; how many values it changed."""
        return 0

    def release(self) -> None:
        """The fault is cleared: let go of what it holds (hang forwards its held requests)."""

    def describe(self) -> dict[str, Any]:
        params = self.params.params()
        if "seed" in params:
            params["seed"] = self.seed
        described = {"kind": self.kind, "params": params, "injected_at": self.injected_at,
                     "activated_at": self.activated_at, "hits": self.hits}
        return described if self.cleared_at is None else {**described, "cleared_at": self.cleared_at}


class ProxyLatency(ProxyFault):
    kind = "latency"

    async def on_request(self, client_gone: Callable[[], Awaitable[None]]) -> int | None:
        p = self.params
        self.hits += 1
        await asyncio.sleep(max(0.0, p.latency_ms + self.rng.uniform(-p.jitter_ms, p.jitter_ms)) / 1000)
        return None


class ProxyHang(ProxyFault):
    kind = "hang"

    def __init__(self, params: Any, seed: int | None = None) -> None:
        super().__init__(params, seed)
        self.released = asyncio.Event()

    async def on_request(self, client_gone: Callable[[], Awaitable[None]]) -> int | None:
        self.hits += 1
        released = asyncio.ensure_future(self.released.wait())
        gone = asyncio.ensure_future(client_gone())
        try:
            await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (released, gone):
                task.cancel()
            if gone.done() and not gone.cancelled():
                gone.exception()  # a client that sent too much while held: it is reset like one that left
        return None if self.released.is_set() else RESET  # a client that gave up is gone: drop its request

    def release(self) -> None:
        self.released.set()


class ProxyIntermittent(ProxyFault):
    kind = "intermittent"

    async def on_request(self, client_gone: Callable[[], Awaitable[None]]) -> int | None:
        if self.rng.random() < self.params.probability:
            self.hits += 1
            return int(self.params.status)
        return None


class ProxyIncorrect(ProxyFault):
    kind = "incorrect"
    rewrites = True

    def __init__(self, params: Any, seed: int | None = None) -> None:
        super().__init__(params, seed)
        self._path = params.field.split(".")

    def rewrite(self, answer: Any) -> int:
        changed = self._walk(answer, None)
        self.hits += changed > 0
        return changed

    def _walk(self, node: Any, key: Any) -> int:
        """Rewrite the product objects under `node` (reached by `key` in its parent); how many values changed."""
        if isinstance(node, list):
            return sum(self._walk(item, None) for item in node)
        if not isinstance(node, dict):
            return 0
        product, wanted = node.get(self.params.product_key, key), self.params.product_id
        if (wanted is None or product == wanted) and self._set(node):
            return 1
        return sum(self._walk(value, name) for name, value in node.items())

    def _set(self, item: dict[str, Any]) -> bool:
        for name in self._path[:-1]:
            item = item.get(name)  # type: ignore[assignment]
            if not isinstance(item, dict):
                return False
        last, p = self._path[-1], self.params
        current = item.get(last, ...)
        if p.value is not None and current is not ...:
            item[last] = p.value
        elif isinstance(current, int | float) and not isinstance(current, bool):
            item[last] = current + p.delta
        else:
            return False
        return True


class Refusing(ProxyFault):
    kind = "refused"

    def __init__(self, params: Any, seed: int | None = None) -> None:
        super().__init__(params, seed)
        self.closes_port = params.mode == "refuse"  # reset mode keeps the port and resets each connection

    async def on_request(self, client_gone: Callable[[], Awaitable[None]]) -> int | None:
        self.hits += 1
        return RESET


class ProxyCrash(ProxyFault):
    kind = "crash"

    def kill(self, pid: int) -> None:
        """Send the signal to the replica's process (OSError when there is none, or it is not ours to signal)."""
        os.kill(pid, getattr(signal, f"SIG{self.params.signal}"))
        self.hits += 1


@dataclass(frozen=True)
class ProxyKind:
    """One kind the proxy can put on a replica: its parameters, its behaviour and what it does (an English msgid)."""

    params: type[FaultParams]
    behaviour: type[ProxyFault]
    summary: str
    clears: bool = True  # False: nothing to clear (a crash; the system brings its replica back)

    @property
    def kind(self) -> str:
        return self.behaviour.kind


# In the order the proxy applies them to a request: the port, a hang, the wait, an error; then the answer's rewrite.
PROXY_KINDS: dict[str, ProxyKind] = {k.kind: k for k in (
    ProxyKind(RefusedParams, Refusing, N_("the port refuses connections, or each connection is reset")),
    ProxyKind(ProxyHangParams, ProxyHang, N_("accepts requests, never forwards them until cleared")),
    ProxyKind(ProxyLatencyParams, ProxyLatency, N_("every request waits before it is forwarded")),
    ProxyKind(ProxyIntermittentParams, ProxyIntermittent, N_("each request fails (HTTP 5xx) with a probability")),
    ProxyKind(ProxyIncorrectParams, ProxyIncorrect, N_("a JSON field of the answer rewritten for a product")),
    ProxyKind(ProxyCrashParams, ProxyCrash, N_("the replica's process is killed by its process id"), clears=False),
)}


def proxy_kind(name: Any) -> ProxyKind:
    """The kind of a name or the replica kinds' aliases (`delay`, `error`, `incorrect_response`); `Refused` naming
    the known ones otherwise."""
    if name is None:
        raise Refused([Problem("kind", N_("is required (one of: {known})"), {"known": ", ".join(PROXY_KINDS)})])
    spec = PROXY_KINDS.get(aliases().get(name, name)) if isinstance(name, str) else None
    if spec is None:
        raise Refused([Problem("kind", N_("unknown fault kind {kind} (known: {known})"),
                               {"kind": repr(name)[:40], "known": ", ".join(PROXY_KINDS)})])
    return spec


def parse_proxy_params(kind: Any, params: dict[str, Any]) -> FaultParams:
    """A proxy fault's parameters; `Refused` with every problem (and its place) otherwise."""
    spec = proxy_kind(kind)
    if "kind" in params and proxy_kind(params["kind"]) is not spec:
        raise Refused([Problem("kind", N_("names another kind than the request: give one"))])
    parsed: FaultParams = parse(spec.params, {**params, "kind": spec.kind})
    return parsed
