"""The fault proxy's messages: its replicas as its control API lists them, and what a reset cleared."""

from __future__ import annotations

from pydantic import Field

from faultlab.core.messages import Open
from faultlab.core.messages.inventory import ActiveFault, FaultInjected


class ProxyFault(ActiveFault):
    """A fault on a replica's traffic: as a replica describes its own, plus how many requests it acted on."""

    injected_at: float = Field(description="when the proxy was asked for it (activated_at: when it took effect)")
    cleared_at: float | None = Field(None, description="when it was cleared (in a clear's answer)")
    hits: int = Field(description="requests it acted on (delayed, held, failed, reset or rewritten)")


class ProxyFaultInjected(FaultInjected):
    """`POST /replicas/{replica}/faults`: as a replica's `POST /faults` answers (a crash: killed at activated_at)."""

    fault: ProxyFault


class ProxyFaultsCleared(Open):
    """`DELETE /replicas/{replica}/faults`: as a replica's `DELETE /faults` answers."""

    replica: int
    cleared: list[ProxyFault]
    cleared_at: float


class ProxyFaultList(Open):
    """`GET /replicas/{replica}/faults`."""

    replica: int
    faults: list[ProxyFault]


class ProxyCounters(Open):
    """What one replica's proxy has done since it started."""

    forwarded: int
    answered_by_fault: int
    reset: int
    upstream_failures: int = Field(description="requests the replica refused or dropped (the client's connection "
                                               "was reset, as without the proxy)")
    rewritten: int


class ProxyReplica(Open):
    """One replica's proxy: where it listens, where it forwards, its faults and counters."""

    replica: int
    listen: str = Field(description="host:port it listens on")
    address: str = Field(description="the base URL that reaches the replica through the proxy from this machine")
    listening: bool = Field(description="false while a refused fault keeps the port closed")
    upstream: str = Field(description="the replica's own base URL")
    pid: int | str | None = Field(description="the replica's process id, or the pid file it is read from (crash)")
    faults: list[ProxyFault]
    connections: int
    counters: ProxyCounters
    last_upstream_error: str | None


class ProxyReplicas(Open):
    """`GET /replicas`."""

    replicas: list[ProxyReplica]


class ProxyReset(Open):
    """`POST /reset`: what was cleared on each replica."""

    replicas: list[ProxyFaultsCleared]
