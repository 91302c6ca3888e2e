"""The supervisor's HTTP API (port 5008): the lab's processes, the reset, the shutdown and the network faults.

Shaped like every other service: named handlers, one route table (`SupervisorApi.routes`), its messages in
`core/messages/supervisor.py` and its OpenAPI document in `openapi/supervisor.py`. Everything that changes the lab
needs the operator's token; what it does to a replica is told to the monitor at the moment it takes effect.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from faultlab.core import netns
from faultlab.core.config import Settings
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.guide import health_body
from faultlab.core.log import Logger
from faultlab.core.messages.supervisor import ResetRequest
from faultlab.core.netns import NetnsNetwork
from faultlab.core.web import ApiError, checked, create_app, json_response, read_json, require_token
from faultlab.faults import FaultError
from faultlab.faults.network import NetFaults, NetFaultUnsupported, parse_net_fault
from faultlab.faults.registry import NETWORK, kinds, of_site
from faultlab.openapi.supervisor import openapi_document
from faultlab.runtime.process import ManagedProcess


class Steered(Protocol):
    """What the API steers: the supervisor (`runtime/supervisor.py`), as far as its handlers use it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def base_settings(self) -> Settings: ...
    @property
    def processes(self) -> Mapping[str, ManagedProcess]: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def ready_at(self) -> float | None: ...
    @property
    def reporter(self) -> MonitorReporter: ...
    @property
    def network(self) -> NetnsNetwork | None: ...
    @property
    def netfaults(self) -> NetFaults | None: ...
    @property
    def log(self) -> Logger: ...

    async def reset(self, overrides: dict[str, Any] | None = None, keep_data: bool = False) -> dict[str, Any]: ...


class SupervisorApi:
    """The handlers of the supervisor's API, over the supervisor they steer."""

    def __init__(self, supervisor: Steered) -> None:
        self.supervisor = supervisor
        self._resetting = asyncio.Lock()
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler."""
        return [
            web.get("/processes", self.processes),
            web.post("/processes/{name}/restart", self.restart),
            web.post("/processes/{name}/kill", self.kill),
            web.post("/processes/{name}/stop", self.stop_process),
            web.post("/processes/{name}/start", self.start_process),
            web.post("/reset", self.reset),
            web.post("/shutdown", self.shutdown),
            web.get("/netfaults", self.list_netfaults),
            web.post("/netfaults", self.inject_netfault),
            web.delete("/netfaults", self.clear_netfaults),
            web.get("/health", self.health),
        ]

    async def start(self, host: str, port: int) -> None:
        s = self.supervisor
        app = create_app(s.settings, "supervisor", s.log, openapi=openapi_document(s.settings))
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- processes ----------------------------------------------------------------------------------------------

    def _named(self, request: web.Request) -> ManagedProcess:
        name = request.match_info["name"]
        processes = self.supervisor.processes
        if name not in processes:
            raise ApiError(404, f"no process named {name[:40]!r}", known=sorted(processes))
        return processes[name]

    async def processes(self, _request: web.Request) -> web.Response:
        s = self.supervisor
        return json_response({"processes": [p.describe() for p in s.processes.values()], "host": s.settings.host,
                              "started_at": s.started_at, "ready_at": s.ready_at})

    async def restart(self, request: web.Request) -> web.Response:
        require_token(request)
        proc = self._named(request)
        await proc.restart()
        return json_response(proc.describe())

    async def kill(self, request: web.Request) -> web.Response:
        require_token(request)
        proc = self._named(request)
        sent = proc.signal(signal.SIGKILL)
        return json_response({"killed": sent, "process": proc.describe()})

    async def stop_process(self, request: web.Request) -> web.Response:
        """Stop a process and leave it stopped (no restart) until `start`: a replica taken down on purpose."""
        require_token(request)
        proc = self._named(request)
        if not proc.running:
            raise ApiError(409, f"{proc.spec.name} is not running", process=proc.describe())
        stopping_at = time.time()
        if proc.spec.replica is not None:  # the monitor opens the episode: TTD counts from this moment
            stop = kinds()["stop"].params()  # type: ignore[call-arg]  # the stop fault has no parameter
            self.supervisor.reporter.report(observation(
                proc.spec.replica, "fault_injected", False, "supervisor", stopping_at,
                fault={"kind": stop.kind, "params": stop.params(), "activated_at": stopping_at}), urgent=True)
        await proc.stop()
        self.supervisor.log.warning("process_stopped", name=proc.spec.name)
        return json_response({"stopped": True, "stopping_at": stopping_at, "stopped_at": time.time(),
                              "process": proc.describe()})

    async def start_process(self, request: web.Request) -> web.Response:
        """Start a stopped process again; for a replica, the moment it is spawned clears its "stop" fault."""
        require_token(request)
        proc = self._named(request)
        if proc.running:
            raise ApiError(409, f"{proc.spec.name} is already running", process=proc.describe())
        await proc.start()
        proc.arm_spare_later()
        assert proc.started_at is not None
        if proc.spec.replica is not None:
            self.supervisor.reporter.report(observation(proc.spec.replica, "fault_cleared", True, "supervisor",
                                                        proc.started_at), urgent=True)
        self.supervisor.log.warning("process_started", name=proc.spec.name)
        return json_response({"started": True, "started_at": proc.started_at, "process": proc.describe()})

    # ---- the lab as a whole -------------------------------------------------------------------------------------

    async def reset(self, request: web.Request) -> web.Response:
        """Fresh data for a new experiment, with its lab settings (see Supervisor.reset)."""
        require_token(request)
        body = checked(ResetRequest, await read_json(request)) if request.can_read_body else ResetRequest()
        if self._resetting.locked():
            raise ApiError(409, "a reset is already running")
        overrides = body.settings.model_dump(exclude_none=True)
        try:
            self.supervisor.base_settings.changed(overrides)
        except ValueError as e:
            raise ApiError(400, f"these settings do not fit together: {e}") from None
        async with self._resetting:
            return json_response(await self.supervisor.reset(overrides, body.keep_data))

    async def shutdown(self, request: web.Request) -> web.Response:
        require_token(request)
        os.kill(os.getpid(), signal.SIGTERM)
        return json_response({"stopping": True}, status=202)

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(health_body("supervisor", self.supervisor.ready_at is not None))

    # ---- network faults (partition, netem), applied here in the root namespace (netns mode only) ----------------

    def _netfaults(self, request: web.Request) -> NetFaults:
        require_token(request)
        if self.supervisor.netfaults is None:
            raise ApiError(409, "network faults need the namespace lab: start it with `faultlab up --netns`")
        return self.supervisor.netfaults

    async def list_netfaults(self, request: web.Request) -> web.Response:
        s = self.supervisor
        return json_response({"netns": s.network is not None,
                              "faults": s.netfaults.describe() if s.netfaults else []})

    async def inject_netfault(self, request: web.Request) -> web.Response:
        faults = self._netfaults(request)
        try:
            fault = parse_net_fault(await read_json(request), self.supervisor.settings.replica_ids)
            await asyncio.to_thread(faults.inject, fault)
        except FaultError as exc:
            raise ApiError(400, str(exc)) from None
        except NetFaultUnsupported as exc:
            raise ApiError(501, str(exc)) from None
        except netns.NetnsError as exc:
            raise ApiError(500, str(exc)) from None
        described = fault.describe()
        for replica in fault.replicas():  # the monitor opens an episode: TTD counts from the rule taking effect
            self.supervisor.reporter.report(observation(replica, "fault_injected", False, "supervisor",
                                                        fault.activated_at, fault=described), urgent=True)
        self.supervisor.log.warning("netfault_injected", fault=described)
        return json_response({"fault": described})

    async def clear_netfaults(self, request: web.Request) -> web.Response:
        faults = self._netfaults(request)
        query = request.query
        replica_ids = self.supervisor.settings.replica_ids
        instance = None
        if "instance" in query:
            if not query["instance"].isdigit() or int(query["instance"]) not in replica_ids:
                raise ApiError(400, f"instance must be one of {replica_ids}")
            instance = int(query["instance"])
        kind = query.get("kind")
        if kind is not None and kind not in of_site(NETWORK):
            raise ApiError(400, f"kind must be one of: {', '.join(of_site(NETWORK))}")
        cleared = await asyncio.to_thread(faults.clear, instance, kind)
        cleared_at = time.time()
        for replica in sorted({r for f in cleared for r in f.replicas()}):
            self.supervisor.reporter.report(observation(replica, "fault_cleared", True, "supervisor", cleared_at),
                                            urgent=True)
        return json_response({"cleared": [f.describe() for f in cleared], "cleared_at": cleared_at})
