"""An inventory replica's messages: its stock answers, what it applied, and its faults as the replica describes them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from faultlab.core.messages import Message, Open

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_APPLIED_IDS = 1000
OrderId = Annotated[str, Field(pattern=UUID_PATTERN, json_schema_extra={"format": "uuid"})]


class ActiveFault(Open):
    """A fault as the replica (or the supervisor) describes it: its kind, its parameters, when it took effect."""

    kind: str
    params: dict[str, Any]
    activated_at: float


class FaultInjected(Open):
    """`POST /faults`: the fault is active (a crash: the process exits at `activated_at`)."""

    replica: int
    fault: ActiveFault
    activated_at: float | None = None


class FaultsCleared(Open):
    """`DELETE /faults`: what was cleared, and when."""

    replica: int
    cleared: list[ActiveFault]
    cleared_at: float


class FaultList(Open):
    """`GET /faults`: the replica's active faults."""

    replica: int
    faults: list[ActiveFault]


class Item(Open):
    """One product's stock as a replica applied it, with the position that versions it."""

    product_id: str
    available_quantity: int
    reserved_quantity: int
    instance_id: str
    replica: int
    timestamp: str
    position: int = Field(description="how many events changed this product")
    applied_seq: int = Field(description="the last log position this replica applied")
    history: list[list[int]] | None = Field(None, description="recent (version, available, reserved, applied_at_ms) "
                                                              "entries, oldest first: applied_at_ms is when this "
                                                              "replica applied the version (ms on the lab's clock; "
                                                              "0 for the initial stock)")


class InventoryAnswer(Open):
    """`GET /inventory`: every product's stock as this replica applied it."""

    instance_id: str | None = None
    replica: int
    applied_seq: int
    inventory: list[Item]


class AppliedRequest(Message):
    """`POST /applied`: the orders whose events the reconciler asks about."""

    order_ids: list[OrderId] = Field(min_length=1, max_length=MAX_APPLIED_IDS)


class AppliedEvent(Open):
    seq: int
    order_id: str
    event_type: str
    outcome: str


class AppliedAnswer(Open):
    """`POST /applied`: the events this replica applied for those orders, in log order."""

    replica: int
    applied: list[AppliedEvent]
