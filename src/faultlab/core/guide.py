"""The study guide's vocabulary, shared by every service's guide routes: its service names, health states, times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The guide's name of each component (its docker-compose service names; the replicas are inventory-svc-N).
GUIDE_SERVICE_NAMES = {"orders": "orders-svc", "monitor": "monitor-svc", "voter": "voter-svc",
                       "dashboard": "dashboard", "supervisor": "supervisor"}
REPLICA_SERVICE = "inventory-svc"


def replica_name(replica: int) -> str:
    """inventory-svc-N, the guide's name of replica N."""
    return f"{REPLICA_SERVICE}-{replica}"


def guide_name(component: str, replica: int | None = None) -> str:
    return replica_name(replica) if replica is not None else GUIDE_SERVICE_NAMES.get(component, component)


def iso(ts: float | None = None) -> str:
    """A UTC time as ISO 8601 with milliseconds (now when not given)."""
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds")


def health_body(component: str, working: bool, replica: int | None = None, **fields: Any) -> dict[str, Any]:
    """`GET /health` in the guide's words (status UP / DOWN, its service name, a timestamp) plus faultlab's
    (`component`, `working` and whatever the service adds)."""
    body: dict[str, Any] = {"status": "UP" if working else "DOWN", "service": guide_name(component, replica),
            "timestamp": iso(), "component": component, "working": working}
    if replica is not None:
        body.update(instance_id=str(replica), replica=replica)
    return {**body, **fields}
