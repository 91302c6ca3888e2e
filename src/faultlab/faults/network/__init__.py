"""Network faults (partition, netem), applied by the supervisor from the root namespace to a namespace lab."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, create_model

from faultlab.core.i18n import N_
from faultlab.core.messages import Problem, Refused, parse
from faultlab.core.netns import HOST_NODE, NetnsError, NetnsNetwork, run
from faultlab.faults.base import FaultError
from faultlab.faults.network.netem import Netem
from faultlab.faults.network.partition import Partition
from faultlab.faults.registry import NETWORK, lookup, of_site

NetFault = Partition | Netem


class NetFaultUnsupported(RuntimeError):
    """This machine cannot apply the fault (a kernel without the netem qdisc, say); nothing changed."""


@cache
def request_model(kind: str) -> type[BaseModel]:
    """`POST /netfaults`'s body for one kind: the kind's parameters plus the replica it targets (`instance`)."""
    spec = lookup(kind, NETWORK)
    model: type[BaseModel] = create_model(
        f"{spec.params.__name__.removesuffix('Params')}Request", __base__=spec.params,
        instance=(int | None, Field(None, ge=1, description=N_("the replica it targets"))))
    return model


def parse_net_fault(body: dict[str, Any], replica_ids: list[int]) -> NetFault:
    """Build a network fault from a body such as {"kind": "netem", "instance": 1, "delay_ms": 200}."""
    kind = body.get("kind")
    try:
        if not isinstance(kind, str):
            raise Refused([Problem("kind", N_("is required (one of: {known})"),
                                   {"known": ", ".join(of_site(NETWORK))})])
        spec = lookup(kind, NETWORK)
        request = parse(request_model(spec.kind), body)
    except Refused as exc:
        raise FaultError(str(exc)) from None
    params = spec.params.model_validate(request.model_dump(exclude={"instance"}))
    fault: NetFault = spec.behaviour(params, request.instance, replica_ids)
    return fault


class NetFaults:
    """The network faults active on one namespace lab: blackhole routes and netem qdiscs, kept in sync."""

    def __init__(self, network: NetnsNetwork) -> None:
        self.network = network
        self.active: dict[str, NetFault] = {}
        self._routes: set[tuple[str, str]] = set()  # (namespace, blackholed address)

    def inject(self, fault: NetFault) -> NetFault:
        """Apply the fault (replacing one with the same target); `activated_at` is when the last rule landed."""
        previous = self.active.get(fault.key)
        self.active[fault.key] = fault
        try:
            if isinstance(fault, Netem):
                self._netem_on(fault)
            else:
                self._sync_routes()
        except Exception:
            if previous is None:
                del self.active[fault.key]
            else:
                self.active[fault.key] = previous
            if isinstance(fault, Partition):
                self._sync_routes()
            raise
        fault.activated_at = time.time()
        return fault

    def clear(self, instance: int | None = None, kind: str | None = None) -> list[NetFault]:
        """Remove the faults touching `instance` (every one when None), only of `kind` if given."""
        chosen = [f for f in self.active.values()
                  if (instance is None or instance in f.replicas()) and (kind is None or f.kind == kind)]
        for fault in chosen:
            del self.active[fault.key]
            if isinstance(fault, Netem):
                self._netem_off(fault)
        if any(isinstance(f, Partition) for f in chosen):
            self._sync_routes()
        return chosen

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.active.values()]

    # ---- partition: blackhole routes inside the namespaces -------------------------------------------

    def _sync_routes(self) -> None:
        nodes = list(self.network.nodes)
        wanted: set[tuple[str, str]] = set()
        for fault in self.active.values():
            if isinstance(fault, Partition):
                for a, b in fault.routes(nodes):
                    if a != HOST_NODE and self.network.address_of(a) != self.network.address_of(b):
                        wanted.add((self.network.nodes[a].namespace, self.network.address_of(b)))
        for ns, address in sorted(wanted - self._routes):
            run(["ip", "-n", ns, "route", "replace", "blackhole", f"{address}/32"])
            self._routes.add((ns, address))
        for ns, address in sorted(self._routes - wanted):
            run(["ip", "-n", ns, "route", "del", "blackhole", f"{address}/32"], check=False)
            self._routes.discard((ns, address))

    # ---- netem: a qdisc on both ends of the replica's veth -------------------------------------------

    def _ends(self, fault: Netem) -> list[list[str]]:
        node = self.network.nodes[f"inventory-{fault.instance}"]
        return [["tc", "qdisc", "{verb}", "dev", node.host_link, "root"],
                ["tc", "-n", node.namespace, "qdisc", "{verb}", "dev", node.ns_link, "root"]]

    def _netem_on(self, fault: Netem) -> None:
        for end in self._ends(fault):
            argv = [w.replace("{verb}", "replace") for w in end]
            done = run(argv + fault.tc_args(seed_supported=True), check=False)
            if done.returncode != 0 and 'What is "seed"' in done.stderr:
                fault.seed_applied = False  # this iproute2 predates `seed`: the kernel's own randomness is used
                done = run(argv + fault.tc_args(seed_supported=False), check=False)
            if done.returncode != 0:
                self._netem_off(fault)
                if "qdisc kind is unknown" in done.stderr:
                    raise NetFaultUnsupported("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is not set); "
                                              "partition works, netem needs a kernel with sch_netem")
                raise NetnsError(f"`{' '.join(argv)} ...` failed: {done.stderr.strip()}")

    def _netem_off(self, fault: Netem) -> None:
        for end in self._ends(fault):
            run([w.replace("{verb}", "del") for w in end], check=False)
