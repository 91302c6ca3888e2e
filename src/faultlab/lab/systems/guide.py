"""A system built to the study guide's contract as a system under test: reached over HTTP only, measured by faultlab's
own observer, never reset, never harmed.

What it can do comes from its contract and from the check (`check.py`) run before anything is broken: a monitor
when `/status` answers with a row per replica, an order's status when `GET /orders/{id}` answers, positions when its
voted answers carry them, a way back for a crashed replica and two-down when its commands are given; never a reset,
lab settings, warm spares or network faults. Its data carries over from run to run, so `prepare` reads the stock and
lowers the load's share of orders until the planned run cannot drain it. TTD and TTR come from the observer's polls
of its monitor (`lab/observer.py`); faults and their undoing are in `guide_faults.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import Settings
from faultlab.core.messages.system import SystemContract
from faultlab.core.said import Said, said_of
from faultlab.faults.registry import REPLICA, kinds
from faultlab.lab.api_checkers import Stock
from faultlab.lab.api_checks import check_via_api
from faultlab.lab.experiment_check import LabFacts
from faultlab.lab.experiment_file import Experiment, HttpProbe, SteadyState
from faultlab.lab.load_model import LoadResult
from faultlab.lab.observer import Observer, Target
from faultlab.lab.observer_api import ObserverApi
from faultlab.lab.observer_episodes import Value
from faultlab.lab.probes import Probes, unsteady
from faultlab.lab.systems.base import Abilities, Cleared, Injected, Step, SystemUnavailable, SystemUnderTest
from faultlab.lab.systems.check import CheckResult, SystemCheck
from faultlab.lab.systems.contract import described, expand_headers, facts_of, monitor_states, products_of
from faultlab.lab.systems.guide_api import GuideApi, GuideReader
from faultlab.lab.systems.guide_faults import CRASH, PROXY_KINDS, STOP, GuideFaults, open_proxy
from faultlab.lab.systems.sizing import size_load
from faultlab.lab.workload import LoadApi

CHECK_FRESH_S = 60.0
SETTLE_S, STEP_S = 5.0, 0.2  # before the run: how long the stock may take to settle, and how often it is read
SHOP_PATHS = {("voter", "/inventory/voted"): "voted", ("orders", "/health"): "health"}


class GuideSystem(SystemUnderTest):
    """A running system built to the guide's contract; `start()` opens the client and starts the observer."""

    kind = "guide"

    def __init__(self, contract: SystemContract, settings: Settings | None = None, observer_port: int | None = None,
                 write_check: bool = True, environ: dict[str, str] | None = None, lost_after_s: float = 5.0) -> None:
        self.contract = contract
        self.settings = settings or Settings()
        self.name = contract.name
        self.headers = expand_headers(contract.headers, environ)
        self.environ = environ
        self.proxy_info: dict[str, Any] = {}  # inject: proxy — the proxy found (or why not), for the check
        self.replica_ids = list(range(1, len(contract.replicas.urls) + 1))
        self.product_ids = list(contract.products)
        self.write_check = write_check
        self.observer_port = observer_port
        self.checked: CheckResult | None = None
        self._checked_at = 0.0
        self.prepared: dict[str, Any] = {}
        self.initial_stock: dict[str, Stock] | None = None
        self.order_ratio: float | None = None
        r = contract.replicas
        targets = [Target(n, url + r.health_path, url + r.inventory_path) for n, url in enumerate(r.urls, start=1)]
        monitor_url = contract.monitor.url + contract.monitor.status_path if contract.monitor.url else None
        self.observer = Observer(targets, self._values, monitor_url, self._states, self.headers,
                                 lost_after_s=lost_after_s, settings=self.settings)
        self.observer_api = ObserverApi(self.observer, self.settings) if observer_port is not None else None
        self._session: aiohttp.ClientSession | None = None
        self.client = LabClient(self.settings, timeout_s=contract.timeout_s)
        self.faults = GuideFaults(contract, self.client, self.observer)
        self.probes = Probes(self.url_of, self._send, self.monitor_status, contract.voter.voted_path)
        self.abilities = self._abilities()

    # ---- what it is ---------------------------------------------------------------------------------------------

    def _abilities(self) -> Abilities:
        c, found = self.contract, self.checked
        replica_kinds = {k for k, spec in kinds().items() if spec.site is REPLICA}
        if c.inject == "proxy":  # what the proxy in front can put on; a crash only where it knows the processes
            rows = self.proxy_info.get("replicas") or []
            faults = {k for k in PROXY_KINDS if k != CRASH or (rows and all(r.get("pid") for r in rows))}
            faults = faults if self.faults.proxy is not None else set()
        else:
            can_inject = found is None or found.inject
            faults = {k for k in c.replicas.kinds if k in replica_kinds} if can_inject else set()
        return Abilities(
            restart=c.replicas.restart_command is not None,
            stop=c.replicas.stop_command is not None and c.replicas.start_command is not None,
            monitor=found.monitor if found is not None else c.monitor.url is not None,
            restock=c.orders.restock_path is not None,
            order_status=found.order_status if found is not None else False,
            positions=found.positions if found is not None else False,
            fault_kinds=frozenset({*faults, STOP}))

    def url_of(self, service: str) -> str:
        c = self.contract
        return {"orders": c.orders.url, "voter": c.voter.url, "monitor": c.monitor.url or ""}.get(service, "")

    def missing_for(self, phase: Any) -> list[str]:
        """As any system, except what a phase can run without: a way back after a crash, and the monitor."""
        return [key for key in super().missing_for(phase) if key not in ("restart", "monitor")]

    def unmeasured_for(self, phase: Any) -> list[str]:
        unmeasured = []
        if phase.has_fault and not self.abilities.monitor:
            unmeasured.append("monitor")
        if self.leaves_down(phase):
            unmeasured.append("restart")
        return unmeasured

    def leaves_down(self, phase: Any) -> bool:
        return not self.abilities.restart and any(s.kind == CRASH for s in phase.steps)

    def load_order_ratio(self, requested: float) -> float:
        return requested if self.order_ratio is None else self.order_ratio

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "replicas": self.replica_ids, "products": self.product_ids,
                "abilities": self.abilities.describe(), "contract": described(self.contract),
                "check": self.checked.describe() if self.checked is not None else None,
                "data": self.prepared or None, "proxy": self.proxy_info or None, "observer": {
                    **self.observer.describe(), "url": self.observer_api.url if self.observer_api else None}}

    async def facts(self) -> LabFacts:
        return facts_of(self.contract)

    # ---- life cycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32), headers=self.headers)
            self.client = LabClient(self.settings, timeout_s=self.contract.timeout_s, session=self._session)
            self.faults.client = self.client
        if self.contract.inject == "proxy" and self.faults.proxy is None and not self.proxy_info:
            self.faults.proxy, self.proxy_info = await open_proxy(self.contract, self.settings, self.environ)
            if self.faults.proxy is not None:  # the observer probes through the proxies, where faults are put
                r = self.contract.replicas
                self.observer.targets = [Target(n, self.faults.proxy.address(n) + r.health_path,
                                                self.faults.proxy.address(n) + r.inventory_path)
                                         for n in self.replica_ids]
            self.abilities = self._abilities()
        self.observer.on_lost = self._lost
        await self.observer.start()
        if self.observer_api is not None and self.observer_api.url is None:
            await self.observer_api.start(port=self.observer_port or 0)

    def _lost(self, reason: str) -> None:
        if self.on_lost is not None:
            self.on_lost(reason)

    async def stop(self) -> None:
        await self.observer.stop()
        if self.faults.proxy is not None:
            await self.faults.proxy.stop()
        if self.observer_api is not None:
            await self.observer_api.stop()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _send(self, method: str, url: str, body: Any = None, **_kw: Any) -> tuple[int, Any]:
        return await self.client.send(method, url, body, timeout_s=_kw.get("timeout_s") or self.contract.timeout_s)

    # ---- reading its answers ------------------------------------------------------------------------------------

    def _values(self, data: Any) -> dict[str, Value]:
        found = products_of(data, self.contract.replicas.items_path, self.contract.fields)
        return {p: (v.available, v.reserved, v.position) for p, v in found.items()}

    def _states(self, data: Any) -> dict[int, str]:
        return {n: s["status"] for n, s in monitor_states(data, self.contract.monitor, len(self.replica_ids)).items()}

    # ---- before and after a run ---------------------------------------------------------------------------------

    async def check(self) -> dict[str, Any]:
        """Every endpoint probed (nothing broken; one test order, cancelled, unless read-only); a check made in the
        last CHECK_FRESH_S stands (the CLI prints it, then the runner asks again)."""
        if self.checked is None or time.monotonic() - self._checked_at > CHECK_FRESH_S:
            self.checked = await SystemCheck(self.contract, self.client, self.proxy_info).run(write=self.write_check)
            self._checked_at = time.monotonic()
            self.observer.instance_ids = {n: str(v) for n, v in self.checked.instance_ids.items()}
            self.abilities = self._abilities()
        return self.checked.describe()

    async def stock(self) -> dict[str, Any]:
        """The stock now, through the voter (available, reserved) and through each replica."""
        c = self.contract
        found: dict[str, Any] = {"voter": None, "replicas": {}}
        with contextlib.suppress(ApiCallError):
            status, answer = await self._send("GET", c.voter.url + c.voter.voted_path)
            if status == 200:
                found["voter"] = {p: [v.available, v.reserved]
                                  for p, v in products_of(answer, c.voter.items_path, c.fields).items()}
        for n, url in enumerate(c.replicas.urls, start=1):
            with contextlib.suppress(ApiCallError):
                status, answer = await self._send("GET", url + c.replicas.inventory_path)
                if status == 200:
                    found["replicas"][str(n)] = {p: list(v[:2]) for p, v in self._values(answer).items()}
        return found

    async def settled_stock(self, timeout_s: float = SETTLE_S) -> dict[str, Any]:
        """The stock once two reads in a row, STEP_S apart, find every replica and the voter agreeing (the check's
        test order and its cancel applied everywhere); the last read after `timeout_s` all the same."""
        deadline = time.monotonic() + timeout_s
        previous: dict[str, Any] | None = None
        while True:
            stock = await self.stock()
            answers = list(stock["replicas"].values())
            agreed = (stock["voter"] is not None and len(answers) == len(self.replica_ids)
                      and all(a == answers[0] for a in answers))
            if (agreed and stock == previous) or time.monotonic() >= deadline:
                stock["settled"] = agreed and stock == previous
                return stock
            previous = stock
            await asyncio.sleep(STEP_S)

    async def prepare(self, experiment: Experiment, on_step: Step) -> dict[str, Any]:
        """No reset: the stock is read, said to carry over, and the load sized so that it lasts the run."""
        stock = await self.settled_stock()
        voted = {p: v for p, v in (stock["voter"] or {}).items() if p in self.product_ids}
        self.initial_stock = {p: Stock(a, r) for p, (a, r) in voted.items()} if voted else None
        available = {p: a for p, (a, _r) in voted.items() if a is not None}
        on_step(i18n._("no reset on this system: its data carries over (available now: {stock})").format(
            stock=", ".join(f"{p} {v}" for p, v in sorted(available.items())) or "-"))
        cancels = self.checked.cancels if self.checked is not None else True
        sizing = size_load(experiment, available, cancels=cancels, restocks=self.abilities.restock)
        self.order_ratio = sizing["order_ratio"]
        if sizing["lowered"]:
            on_step(i18n._("the load's share of orders lowered from {requested} to {chosen} so that the stock lasts "
                           "the run").format(requested=f"{sizing['requested_order_ratio']:g}",
                                             chosen=f"{sizing['order_ratio']:g}"))
        self.prepared = {"reset": False, "carries_over": True, "stock_before": stock, "load": sizing}
        return {}

    async def monitor_status(self) -> dict[str, Any]:
        """The monitor's view in the shop monitor's shape (the observer's own where the system has no monitor)."""
        c = self.contract
        if c.monitor.url is None:
            view = self.observer.status()
            for row in view["instances"]:
                row["reason"] = "the observer's own probes (the system has no monitor)"
            return view
        try:
            status, answer = await self._send("GET", c.monitor.url + c.monitor.status_path)
        except ApiCallError as exc:
            raise SystemUnavailable(f"the monitor did not answer: {exc.error}") from None
        if status != 200:
            raise SystemUnavailable(f"the monitor answered HTTP {status}")
        states = monitor_states(answer, c.monitor, len(self.replica_ids))
        rows = [{"replica": n, "service_name": "inventory-svc", "instance_id": str(n),
                 "status": states[n]["status"] if n in states else "UNKNOWN",
                 "reason": f"monitor says {states[n]['word']!r}" if n in states else "no row in the monitor's status",
                 "health": {"faults": sorted(self.faults.active.get(n, ()))}} for n in self.replica_ids]
        return {"instances": rows, "source": "the system's monitor", "detector": "the system's monitor (polled)",
                "health_interval_ms": round(self.observer.interval_s * 1000), "timestamp": None}

    async def steady(self) -> list[Said | str]:
        """Replicas not ON in the monitor's view, faults the lab left on, replicas the observer sees failing."""
        try:
            problems: list[Said | str] = list(unsteady(await self.monitor_status()))
        except SystemUnavailable as exc:
            problems = [said_of(exc)]
        for n in self.replica_ids:
            if self.observer.book.observer_status(n) == "OFF":
                problems.append(f"replica {n} fails the observer's probes")
        problems += [f"replica {n} is stopped" for n in sorted(self.faults.stopped)]
        return problems

    async def hypothesis(self, steady_state: SteadyState) -> dict[str, Any]:
        """The hypothesis' probes, the shop's default paths read as the contract's."""
        c = self.contract
        probes: list[Any] = []
        for probe in steady_state.probes:
            if isinstance(probe, HttpProbe) and (probe.service, probe.path) in SHOP_PATHS:
                path = c.voter.voted_path if probe.service == "voter" else c.orders.health_path
                probes.append(probe.model_copy(update={"path": path}))
            else:
                probes.append(probe)
        return await self.probes.hypothesis(steady_state.model_copy(update={"probes": probes}))

    def load_api(self) -> LoadApi:
        return GuideApi(self.contract, self.headers)

    # ---- faults -------------------------------------------------------------------------------------------------

    async def inject(self, kind: str, replicas: Sequence[int], params: dict[str, Any]) -> list[Injected]:
        return await self.faults.inject(kind, replicas, params)

    async def clear(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        return await self.faults.clear(kind, replicas)

    async def recover(self, kind: str, replicas: Sequence[int]) -> list[Cleared]:
        return await self.faults.recover(kind, replicas)

    async def rollback(self, timeline: list[dict[str, Any]]) -> list[Said | str]:
        return await self.faults.rollback(timeline)

    # ---- detection ----------------------------------------------------------------------------------------------

    async def watch(self) -> None:
        """The observer runs from `start()`: its episodes are the detections."""

    async def unwatch(self) -> None:
        """Nothing to stop before `stop()`."""

    async def wait_episode(self, replica: int, since: float, needs: str, timeout_s: float) -> dict[str, Any] | None:
        return await self.observer.wait_episode(replica, since, needs, timeout_s)

    def recorded_events(self) -> list[dict[str, Any]]:
        return list(self.observer.events)

    async def voter_stats(self) -> dict[str, Any] | None:
        c = self.contract
        if c.voter.stats_path is None:
            return None
        with contextlib.suppress(ApiCallError):
            status, body = await self._send("GET", c.voter.url + c.voter.stats_path)
            if status == 200 and isinstance(body, dict):
                return body
        return None

    async def failures(self) -> list[dict[str, Any]]:
        return self.observer.episodes()

    # ---- data -----------------------------------------------------------------------------------------------------

    async def check_data(self, history: LoadResult | None, timeout_s: float) -> dict[str, Any]:
        """Through its API only (`lab/api_checks.py`): its replicas' answers against the load's history, the faults
        as they ran (the observer's episodes) and what the observer saw each replica serve."""
        windows = [{"kind": e.fault_kind or "unknown", "replica": e.replica,
                    "params": (e.fault or {}).get("params") or {},
                    # a stop is certain once its command has finished (TTD counts from its start, the checks only
                    # judge reads while the replica was surely down); a restart or start clears from its start
                    "activated_at": (e.fault or {}).get("stopped_at", e.activated_at), "cleared_at": e.cleared_at}
                   for e in self.observer.book.all_episodes()]
        reader = GuideReader(self.contract, self.client, self.abilities.order_status)
        return await check_via_api(reader, history, windows, self.initial_stock, samples=self.observer.samples,
                                   timeout_s=timeout_s)
