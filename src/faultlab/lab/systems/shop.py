"""faultlab's own shop as a system under test: reached through its supervisor, its services' APIs and its monitor's
event stream — the richest system (a reset, lab settings, pushed detection events, the database for the data check).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.said import Said, SaidError, say
from faultlab.faults.registry import NETWORK, PROCESS, kinds
from faultlab.lab.checkers import check_data
from faultlab.lab.events import MonitorEvents
from faultlab.lab.experiment_check import LabFacts
from faultlab.lab.experiment_file import Experiment, SteadyState
from faultlab.lab.load_model import LoadResult
from faultlab.lab.probes import Probes, unsteady
from faultlab.lab.systems.base import Abilities, Cleared, Injected, Step, SystemUnavailable, SystemUnderTest
from faultlab.lab.workload import LoadApi, ShopApi
from faultlab.runtime.process import wait_spares_ready


class ShopUnavailable(SystemUnavailable):
    """The shop cannot be used as it is (its supervisor does not answer, a process is down, a reset failed)."""


class ShopSystem(SystemUnderTest):
    """The shop started by `faultlab up` (or by a test), reached with the operator's token."""

    kind = "shop"

    def __init__(self, settings: Settings, client: LabClient | None = None) -> None:
        if not settings.admin_token:
            raise ValueError("the shop needs the operator token (start the lab, or set FAULTLAB_ADMIN_TOKEN)")
        self.settings = settings
        self.name = "faultlab shop"
        self.client = client or LabClient(settings)
        self._own_client = client is None
        self.replica_ids = settings.replica_ids
        self.product_ids = sorted(settings.initial_stock)
        self.netns = False
        self.events = MonitorEvents(self.client)
        self.probes = Probes(self.url_of, self.client.send)
        self.settings_applied = False
        self.max_staleness_ms: int | None = None  # the run's bound when its lab settings change it
        self.abilities = self._abilities()

    def _abilities(self) -> Abilities:
        every = set(kinds())
        if not self.netns:
            every -= {k for k, spec in kinds().items() if spec.site is NETWORK}
        return Abilities(reset=True, lab_settings=True, restart=self.settings.restart_crashed, stop=True, monitor=True,
                         pushed_events=True, restock=True, order_status=True, positions=True, netns=self.netns,
                         warm_spares=self.settings.warm_spares, fault_kinds=frozenset(every))

    @property
    def supervisor(self) -> str:
        return f"http://127.0.0.1:{self.settings.supervisor_port}"

    def url_of(self, service: str) -> str:
        return self.settings.service_url(service)

    async def start(self) -> None:
        if self._own_client:
            await self.client.start()

    async def stop(self) -> None:
        await self.unwatch()
        if self._own_client:
            await self.client.stop()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "replicas": self.replica_ids, "products": self.product_ids,
                "abilities": self.abilities.describe(), "supervisor": self.supervisor,
                "urls": {s: self.url_of(s) for s in ("orders", "monitor", "voter", "dashboard")}}

    async def facts(self) -> LabFacts:
        """The running lab, from its supervisor's answers (`LabFacts.of_running_lab`)."""
        return await LabFacts.of_running_lab(self.client)

    async def check(self) -> dict[str, Any]:
        """The supervisor answers and every process runs; whether the lab has its own network (namespaces)."""
        checks: dict[str, Any] = {}
        try:
            status, procs = await self.client.send("GET", f"{self.supervisor}/processes")
            checks["supervisor"] = status == 200
        except ApiCallError:
            checks["supervisor"] = False
        if not checks["supervisor"]:
            raise ShopUnavailable(say("supervisor_silent", url=self.supervisor))
        down = [p["name"] for p in procs["processes"] if not p["running"]]
        if down:
            raise ShopUnavailable(say("processes_down", names=down))
        with contextlib.suppress(ApiCallError):
            status, answer = await self.client.send("GET", f"{self.supervisor}/netfaults", auth=True)
            self.netns = status == 200 and bool(answer.get("netns"))
        checks["netns"] = self.netns
        self.abilities = self._abilities()
        checks["ok"] = True
        return checks

    # ---- before and after a run ---------------------------------------------------------------------------------

    async def _reset(self, settings: dict[str, Any], keep_data: bool, on_step: Step) -> dict[str, Any]:
        """The supervisor's reset: fresh data (or the same, `keep_data`), the services restarted with `settings`."""
        on_step(i18n._("restarting the services with this run's lab settings") if keep_data
                else i18n._("resetting the lab's data: fresh stock, empty log"))
        body = {"settings": settings, "keep_data": keep_data}
        try:
            status, answer = await self.client.send("POST", f"{self.supervisor}/reset", body, auth=True,
                                                    timeout_s=120)
        except ApiCallError as exc:
            raise ShopUnavailable(say("reset_failed", error=repr(exc))) from None
        if status != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise ShopUnavailable(say("reset_failed", error=f"HTTP {status} {error or answer}"))
        return dict(answer)

    async def prepare(self, experiment: Experiment, on_step: Step) -> dict[str, Any]:
        lab_settings = experiment.lab_settings.model_dump(exclude_none=True)
        self.max_staleness_ms = lab_settings.get("max_staleness_ms")
        if not (experiment.reset or lab_settings):
            return {}
        self.settings_applied = bool(lab_settings)
        return {"reset": await self._reset(lab_settings, keep_data=not experiment.reset, on_step=on_step)}

    async def restore(self, on_step: Step) -> dict[str, Any] | None:
        if not self.settings_applied:
            return None
        self.settings_applied = False
        return await self._reset({}, keep_data=True, on_step=on_step)

    async def monitor_status(self) -> dict[str, Any]:
        status, body = await self.client.send("GET", f"{self.url_of('monitor')}/status")
        if status != 200:
            raise ShopUnavailable(say("monitor_answered", status=status))
        return dict(body)

    async def steady(self) -> list[Said | str]:
        try:
            return unsteady(await self.monitor_status())
        except (ApiCallError, ShopUnavailable):
            return [say("monitor_not_reached")]

    async def hypothesis(self, steady_state: SteadyState) -> dict[str, Any]:
        return await self.probes.hypothesis(steady_state)

    async def settle(self, on_step: Step) -> dict[str, Any]:
        """A lab just started is still starting its warm spares (a Python process each, importing): wait until
        they are idle, or the first baseline measures their imports, not the lab."""
        if not self.abilities.warm_spares:
            return {}
        on_step(i18n._("waiting for the warm spares to finish starting"))

        async def processes() -> list[dict[str, Any]]:
            status, answer = await self.client.send("GET", f"{self.supervisor}/processes")
            return answer.get("processes", []) if status == 200 else []

        return {"warm_spares_ready": await wait_spares_ready(processes, 30.0)}

    def load_api(self) -> LoadApi:
        return ShopApi(self.settings)

    # ---- faults -------------------------------------------------------------------------------------------------

    async def inject(self, kind: str, replicas: Sequence[int], params: dict[str, Any]) -> list[Injected]:
        """Each replica at once (as two replicas fail together); a partition by groups is one call."""
        spec = kinds()[kind]
        where: list[int | None] = [None] if spec.site is NETWORK and "groups" in params else list(replicas)

        async def one(replica: int | None) -> list[Injected]:
            sent_at = time.time()
            status, answer = await self.client.send_call(spec.site.inject(self.settings, kind, replica, params))
            if status not in (200, 201, 202):
                raise SaidError(say("fault_refused", kind=kind, replica=replica, status=status, answer=str(answer)))
            at = spec.site.read(answer, spec.site.activated_field)
            body = answer if isinstance(answer, dict) else {}
            return [Injected(r, at, sent_at, body) for r in ([replica] if replica is not None else list(replicas))]

        answers = await asyncio.gather(*(one(r) for r in where))
        return [injected for group in answers for injected in group]

    async def clear(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        spec = kinds()[kind]

        async def one(replica: int) -> Cleared:
            try:
                status, answer = await self.client.send_call(spec.site.clear(self.settings, kind, replica))
            except ApiCallError as exc:
                return Cleared(replica, None, say("fault_not_cleared", kind=kind, replica=replica,
                                                  error=type(exc).__name__))
            if status != 200:
                return Cleared(replica, None)
            return Cleared(replica, spec.site.read(answer, spec.site.cleared_field))

        return list(await asyncio.gather(*(one(r) for r in replicas)))

    async def rollback(self, timeline: list[dict[str, Any]]) -> list[Said | str]:
        problems: list[Said | str] = []
        with contextlib.suppress(ApiCallError):
            status, procs = await self.client.send("GET", f"{self.supervisor}/processes")
            for proc in procs["processes"] if status == 200 else []:
                if not proc["running"]:
                    code, answer = await self.client.send("POST", f"{self.supervisor}/processes/{proc['name']}/start",
                                                          auth=True)
                    if code == 200:
                        timeline.append({"at": answer["started_at"], "event": PROCESS.cleared_event,
                                         "replica": proc.get("replica"), "rollback": True})
        if self.netns:
            try:
                status, answer = await self.client.send("DELETE", f"{self.supervisor}/netfaults", auth=True,
                                                        timeout_s=15)
                for fault in answer.get("cleared", []) if status == 200 else []:
                    timeline.append({"at": answer["cleared_at"], "event": NETWORK.cleared_event, "fault": fault,
                                     "replica": fault["params"].get("instance"), "rollback": True})
            except ApiCallError as exc:
                problems.append(say("network_not_cleared", error=type(exc).__name__))
        for replica in self.replica_ids:
            try:
                status, answer = await self.client.send("DELETE", f"{self.settings.replica_url(replica)}/faults",
                                                        auth=True, timeout_s=3)
                if status == 200 and answer.get("cleared"):
                    timeline.append({"at": answer["cleared_at"], "event": "fault_cleared", "replica": replica,
                                     "rollback": True})
            except ApiCallError as exc:
                problems.append(say("replica_not_cleared", replica=replica, error=type(exc).__name__))
        return problems

    # ---- detection ----------------------------------------------------------------------------------------------

    async def watch(self) -> None:
        await self.events.start()

    async def unwatch(self) -> None:
        await self.events.stop()

    async def wait_episode(self, replica: int, since: float, needs: str, timeout_s: float) -> dict[str, Any] | None:
        return await self.events.wait_episode(replica, since, needs, timeout_s)

    def recorded_events(self) -> list[dict[str, Any]]:
        return self.events.recorded()

    async def voter_stats(self) -> dict[str, Any] | None:
        with contextlib.suppress(ApiCallError):
            status, body = await self.client.send("GET", f"{self.url_of('voter')}/voting/stats")
            if status == 200:
                return dict(body)
        return None

    async def failures(self) -> list[dict[str, Any]]:
        with contextlib.suppress(ApiCallError):
            status, body = await self.client.send("GET", f"{self.url_of('monitor')}/failures")
            if status == 200:
                return list(body.get("failures", []))
        return []

    # ---- data ---------------------------------------------------------------------------------------------------

    async def check_data(self, history: LoadResult | None, timeout_s: float) -> dict[str, Any]:
        return await check_data(self.settings, history.accepted_order_ids if history else [], timeout_s=timeout_s,
                                reads=history.reads if history else [],
                                ambiguous=history.ambiguous_writes if history else [],
                                refused_keys=history.refused_keys if history else [],
                                since=history.started_at if history and history.started_at else None,
                                max_staleness_ms=self.max_staleness_ms)
