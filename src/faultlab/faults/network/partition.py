"""partition: nodes in different groups cannot reach each other (blackhole routes inside their namespaces)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from faultlab.core.i18n import N_
from faultlab.faults.base import FaultError, FaultParams
from faultlab.faults.registry import NETWORK, GuidePhase, KindSpec, register

HOST = "host"  # the bridge address in the root namespace: broker, PostgreSQL, supervisor
NODE_NAMES = ("orders", "monitor", "voter", "dashboard", HOST)  # plus inventory-N


class PartitionParams(FaultParams):
    kind: Literal["partition"] = "partition"
    groups: list[list[str]] | None = Field(
        None, min_length=2, description=N_("split these nodes into groups that cannot reach each other (inventory-N, "
                                           "orders, monitor, voter, dashboard, host); without groups the replica is "
                                           "cut off from every other node"))


def parse_groups(text: str) -> list[list[str]]:
    """The command line's spelling of groups: groups split by '/', nodes by ','."""
    return [[n.strip() for n in g.split(",") if n.strip()] for g in text.split("/")]


@dataclass
class Partition:
    """Cut `instance` off from every other node, or split the listed nodes into `groups` (unlisted ones see all).

    Blackhole routes inside the cut-off namespaces: nothing crosses in either direction and nobody gets a reset
    or an ICMP error; the cut-off side's own sends fail at once (its routes are gone), the others' time out.
    """

    kind = "partition"
    instance: int | None = None
    groups: list[list[str]] = field(default_factory=list)
    activated_at: float = 0.0

    @classmethod
    def build(cls, params: PartitionParams, instance: int | None, replica_ids: list[int]) -> Partition:
        groups = params.groups
        if (instance is None) == (groups is None):
            raise FaultError("partition needs either instance (cut one replica off) or groups (split the nodes)")
        if instance is not None:
            if instance not in replica_ids:
                raise FaultError(f"instance must be one of {replica_ids}")
            return cls(instance=instance)
        assert groups is not None
        known = {*NODE_NAMES, *(f"inventory-{r}" for r in replica_ids)}
        if not all(groups):
            raise FaultError("groups must be at least two non-empty lists of node names")
        seen: set[str] = set()
        for group in groups:
            for node in group:
                if node not in known:
                    raise FaultError(f"unknown node {node!r} in groups; known: {', '.join(sorted(known))}")
                if node in seen:
                    raise FaultError(f"node {node} is in two groups")
                seen.add(node)
        return cls(groups=[list(g) for g in groups])

    def sides(self, nodes: list[str]) -> list[list[str]]:
        """The groups, with `instance` expanded to [[every other node], [inventory-N]]; the first side is the anchor."""
        if self.instance is None:
            anchor = next((g for g in self.groups if HOST in g), self.groups[0])
            return [anchor, *[g for g in self.groups if g is not anchor]]
        me = f"inventory-{self.instance}"
        return [[n for n in [*nodes, HOST] if n != me], [me]]

    def routes(self, nodes: list[str]) -> set[tuple[str, str]]:
        """(a, b): node a gets a blackhole route to b. Only nodes outside the anchor side get routes, so the anchor
        (the side with the broker, else the first group) sees silence and timeouts, the cut-off nodes see their
        own sends fail at once (EINVAL) and their answers vanish."""
        sides = self.sides(nodes)
        return {(a, b) for i, group in enumerate(sides) if i > 0 for a in group
                for j, other in enumerate(sides) if j != i for b in other}

    def replicas(self) -> list[int]:
        """The replicas this partition is about (each gets a fault episode in the monitor)."""
        if self.instance is not None:
            return [self.instance]
        return sorted(int(n.split("-")[1]) for g in self.groups for n in g if n.startswith("inventory-"))

    @property
    def key(self) -> str:
        return f"partition:inventory-{self.instance}" if self.instance is not None else "partition:groups"

    def describe(self) -> dict[str, Any]:
        params: dict[str, Any] = {"instance": self.instance} if self.instance is not None else {"groups": self.groups}
        return {"kind": self.kind, "params": params, "activated_at": self.activated_at}


SPEC = register(KindSpec(PartitionParams, NETWORK, N_("cut the replica off the virtual network (namespace lab)"),
                         N_("DELETE /netfaults on the supervisor: the routes are removed, the replica catches up"),
                         "#393b79", Partition.build, cli={"groups": parse_groups}, order=9,
                         phase=GuidePhase("partition", (3,), "replica 3 cut off the network (namespace lab only): the "
                                          "process runs and answers nobody; the majority masks it; after healing it "
                                          "catches up")))
