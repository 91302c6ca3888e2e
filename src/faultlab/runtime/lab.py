"""The whole lab as supervised local processes: database, broker, services; plus the supervisor's control API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from faultlab import bus, netns
from faultlab.client import ApiCallError, LabClient
from faultlab.config import DB_PASSWORD_FILE, STATE_FILE, TOKEN_FILE, Settings
from faultlab.db import ensure_database
from faultlab.faults import FaultError
from faultlab.faults.network import NetFaults, NetFaultUnsupported, parse_net_fault
from faultlab.faults.registry import NETWORK, kinds, of_target
from faultlab.guide import health_body
from faultlab.log import get_logger
from faultlab.models.supervisor import LAB_SETTINGS, ResetRequest
from faultlab.netns import NetnsNetwork
from faultlab.openapi.supervisor import openapi_document as supervisor_openapi
from faultlab.reporting import MonitorReporter, observation
from faultlab.runtime import broker, postgres
from faultlab.runtime.process import ManagedProcess, ProcessSpec
from faultlab.web import ApiError, checked, create_app, json_response, read_json, require_token

SECRETS = ("FAULTLAB_ADMIN_TOKEN", "FAULTLAB_DB_PASSWORD")  # never written to lab.json


class LabError(RuntimeError):
    """The lab could not start; the message says what to look at."""


def load_or_create_token(home: Path, name: str = TOKEN_FILE) -> str:
    """A secret of the lab (the operator token, the database password): kept in the lab folder with mode 0600,
    created on first use."""
    path = home / name
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def wait_port(port: int, timeout_s: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _reader, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise LabError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s") from None
            await asyncio.sleep(0.01)


def _claim_network(settings: Settings) -> NetnsNetwork:
    """Namespaces for monitor, replicas, orders, voter and dashboard (claimed now, created by `start()`)."""
    reason = netns.unavailable_reason()
    if reason:
        raise LabError(reason)
    nodes = ["monitor", *[f"inventory-{r}" for r in settings.replica_ids], "orders", "voter", "dashboard"]
    return netns.NetnsNetwork.allocate(nodes)


def _place(network: NetnsNetwork, spec: ProcessSpec, node: str) -> ProcessSpec:
    """The same process run inside `node`'s namespace, bound to its address (netns mode)."""
    spec.argv = [*network.exec_prefix(node), *spec.argv]
    if spec.spare_argv:
        spec.spare_argv = [*network.exec_prefix(node), *spec.spare_argv]
    spec.env = {**spec.env, "FAULTLAB_HOST": network.nodes[node].address}
    return spec


def _rebind(network: NetnsNetwork, spec: ProcessSpec) -> ProcessSpec:
    """The embedded broker or PostgreSQL listening on the bridge address (PostgreSQL also on loopback)."""
    argv = list(spec.argv)
    if spec.name == "postgres":
        at = argv.index("-h")
        argv[at + 1] = f"127.0.0.1,{network.host_address}"
        data_dir = Path(argv[argv.index("-D") + 1])
        hba = data_dir.parent / "pg_hba_netns.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n"
                       f"host all all {netns.SUBNET.format(index=network.index)} trust\n")
        hba.chmod(0o644)
        if spec.uid_gid:
            os.chown(hba, *spec.uid_gid)
        argv += ["-c", f"hba_file={hba}"]
    else:
        argv = [a.replace("tcp://127.0.0.1:", f"tcp://{network.host_address}:") for a in argv]
    spec.argv = argv
    return spec


class Lab:
    """Starts and supervises every process of the lab; `stop()` leaves nothing behind."""

    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None,
                 netns: bool = False) -> None:
        self.home = settings.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        token = settings.admin_token or load_or_create_token(self.home)
        password = settings.db_password or load_or_create_token(self.home, DB_PASSWORD_FILE)
        self.settings = settings.model_copy(update={"admin_token": token, "db_password": password, "home": self.home})
        self.network: NetnsNetwork | None = None  # netns mode: each service on its own host, see netns.py
        if netns:
            self.network = _claim_network(self.settings)
            self.settings = self.settings.model_copy(update={"service_hosts": self.network.service_hosts()})
        self.netfaults = NetFaults(self.network) if self.network else None
        self.base_settings = self.settings  # what a reset without lab settings goes back to
        self.logs = self.home / "logs"
        self.logs.mkdir(exist_ok=True)
        self.progress = progress or (lambda _msg: None)
        # The supervisor's own events go to its log file, not into the console of whoever started the lab.
        self._log_file = open(self.logs / "supervisor.log", "a", buffering=1)  # noqa: SIM115 (open until stop())
        self.log = get_logger("supervisor", stream=self._log_file)
        self.processes: dict[str, ManagedProcess] = {}
        self.reporter = MonitorReporter(self.settings)
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self._runner: web.AppRunner | None = None
        self._stopped = False
        self._resetting = asyncio.Lock()

    # ---- start ------------------------------------------------------------------------------------

    def _check_ports(self) -> None:
        s = self.settings
        wanted = {"orders": s.orders_port, "monitor": s.monitor_port, "voter": s.voter_port,
                  "dashboard": s.dashboard_port, "supervisor": s.supervisor_port}
        wanted.update({f"inventory-{r}": s.replica_port(r) for r in s.replica_ids})
        if not s.database_url:
            wanted["postgres"] = s.postgres_port
        if not s.kafka_bootstrap:
            wanted["broker"] = s.broker_port
        busy = [f"{name} ({port})" for name, port in wanted.items() if not port_is_free(port, "127.0.0.1")]
        if busy:
            raise LabError("ports already in use: " + ", ".join(busy)
                           + " — is another lab running? (`faultlab down`, or set FAULTLAB_*_PORT)")

    def _service_spec(self, service: str, replica: int | None = None) -> ProcessSpec:
        argv = [sys.executable, "-m", "faultlab", "serve", service]
        name = service
        if replica is not None:
            argv += ["--replica", str(replica)]
            name = f"inventory-{replica}"
        restart = self.settings.restart_crashed if replica is not None else True
        # A restarted replica imports its modules at low priority so the survivors keep their latency (it
        # renices itself once working; lowering a niceness again needs root, hence only then).
        root = os.geteuid() == 0
        nice = 10 if replica is not None and root else 0
        # A crashed service is replaced by its warm spare, already past its imports (see runtime/process.py).
        spare = [*argv, "--spare"] if restart and self.settings.warm_spares else None
        spec = ProcessSpec(name=name, argv=argv, env=self.settings.to_env(), restart=restart, replica=replica,
                           restart_nice=nice, spare_argv=spare, spare_nice=19 if root else 0)
        return _place(self.network, spec, name) if self.network else spec

    async def _add(self, spec: ProcessSpec) -> ManagedProcess:
        proc = ManagedProcess(spec, self.logs, on_exit=self._on_exit)
        self.processes[spec.name] = proc
        await proc.start()
        return proc

    async def _on_exit(self, proc: ManagedProcess, code: int, died_at: float) -> None:
        self.log.warning("process_exited", name=proc.spec.name, code=code, restart=proc.auto_restart)
        if proc.spec.replica is not None:
            self.reporter.report(observation(proc.spec.replica, "process_exit", False, "supervisor", died_at,
                                             code=code, detected_at=time.time()), urgent=True)
        if proc.spec.name == "broker" and proc.auto_restart:
            asyncio.get_running_loop().create_task(self._after_broker_restart(proc))

    async def _after_broker_restart(self, proc: ManagedProcess) -> None:
        """A restarted embedded broker has no topics: recreate them (1 partition) before clients do."""
        await proc._respawned.wait()
        proc._respawned.clear()
        with contextlib.suppress(Exception):
            await wait_port(self.settings.broker_port, 10, self.network.host_address if self.network else "127.0.0.1")
            await bus.ensure_topics(self.settings)
            self.log.info("broker_restarted_topics_created")

    async def start(self, timeout_s: float = 60.0) -> None:
        self.started_at = time.time()
        self._check_ports()
        await self._start_control()
        s = self.settings
        net = self.network
        if net is not None:
            self.progress(f"creating network namespaces on {netns.SUBNET.format(index=net.index)} ({net.bridge})")
            await asyncio.to_thread(net.create)
        if not s.database_url:
            self.progress("starting PostgreSQL (embedded)")
            layout = postgres.PostgresLayout(self.home / "postgres", s.postgres_port)
            assert s.db_password is not None
            spec = await asyncio.to_thread(postgres.prepare, layout, s.db_password)
            await self._add(_rebind(net, spec) if net else spec)
        if not s.kafka_bootstrap:
            self.progress("starting Kafka broker (embedded Tansu)")
            spec = broker.prepare(s.broker_port)
            await self._add(_rebind(net, spec) if net else spec)
        if not s.database_url:
            await wait_port(s.postgres_port, 30)
            await ensure_database(s)
        if not s.kafka_bootstrap:
            await wait_port(s.broker_port, 15, net.host_address if net else "127.0.0.1")
        self.progress("creating topics")
        await bus.ensure_topics(s)
        self.progress("starting services")
        await self.reporter.start()
        await self._add(self._service_spec("monitor"))
        for replica in s.replica_ids:
            await self._add(self._service_spec("inventory", replica))
        await self._add(self._service_spec("orders"))
        await self._add(self._service_spec("voter"))
        await self._add(self._service_spec("dashboard"))
        self.write_state()
        await self.wait_working(timeout_s)
        self.ready_at = time.time()
        for proc in self.processes.values():
            proc.arm_spare_later(0.0)  # once everything works: the spares' imports must not slow the start
        self.write_state()

    async def wait_working(self, timeout_s: float) -> None:
        """Until every service says it works and the monitor has every replica ON (caught up) and every other
        service ON."""
        deadline = time.monotonic() + timeout_s
        s = self.settings
        pending = ["orders", "voter", "monitor", "dashboard", *(f"inventory-{r}" for r in s.replica_ids)]
        async with LabClient(s, timeout_s=1) as client:
            while True:
                for name in list(pending):
                    with contextlib.suppress(ApiCallError):
                        health = await client.health(name)
                        if isinstance(health, dict) and health.get("working"):
                            pending.remove(name)
                            self.progress(f"{name} working")
                if not pending:
                    with contextlib.suppress(ApiCallError):
                        status = await client.monitor_status()
                        if all(i["status"] == "ON" for i in status["instances"] + status.get("services", [])):
                            return
                dead = [p.spec.name for p in self.processes.values() if not p.running and p.exits]
                if time.monotonic() > deadline or (dead and time.monotonic() > deadline - timeout_s + 20):
                    waiting = ", ".join(pending) or "replicas and services to be ON in the monitor"
                    logs = ", ".join(str(self.processes[n].log_path) for n in dead) or str(self.logs)
                    raise LabError(f"the lab did not become ready in {timeout_s:.0f} s (waiting for: {waiting}); "
                                   f"see {logs}")
                await asyncio.sleep(0.05)

    # ---- reset ------------------------------------------------------------------------------------

    async def reset(self, overrides: dict[str, Any] | None = None, keep_data: bool = False) -> dict[str, Any]:
        """Fresh data, the same lab: every order, event and replica state gone, stock back to the initial stock.

        The services that hold lab data (monitor, replicas, orders, voter) stop, the broker's log is emptied (the
        embedded broker restarts: it keeps nothing), the orders' and replicas' schemas are dropped, and the
        services start again — through their warm spares, already past their imports. The dashboard keeps
        running (pages stay open). The monitor's audit tables are kept: they are the lab's history.

        `overrides` (an experiment's lab settings: detector, intervals, thresholds, voter timeouts) are the settings
        those services start with, until the next reset (none: the lab's own); a service whose settings change gets
        a new process (its waiting spare has the old ones). `keep_data` restarts them without dropping anything.
        """
        started = time.perf_counter()
        order = ["monitor", *[f"inventory-{r}" for r in self.settings.replica_ids], "orders", "voter"]
        services = [self.processes[n] for n in order if n in self.processes]
        settings = self.base_settings.changed(overrides or {})  # ValueError (nothing stopped) if they do not fit
        env = settings.to_env()
        changed = {k: v for k, v in env.items() if k not in SECRETS and self.settings.to_env().get(k) != v}
        self.progress("reset: stopping the services that hold data")
        await asyncio.gather(*(p.stop(keep_spare=not changed) for p in services))
        if not keep_data:
            self.progress("reset: emptying the broker's log")
            await self._empty_topics()
            self.progress("reset: dropping the orders' and replicas' data")
            conn = await asyncpg.connect(self.settings.dsn, timeout=10)
            try:
                schemas = ["orders", *[f"inventory_{r}" for r in self.settings.replica_ids]]
                await conn.execute("DROP SCHEMA IF EXISTS " + ", ".join(schemas) + " CASCADE")
                await conn.execute("DELETE FROM monitor.instance_status WHERE service_name = 'inventory-svc'")
            except asyncpg.UndefinedTableError:
                pass
            finally:
                await conn.close()
        if changed:
            self.settings = settings
            for proc in services:
                proc.spec.env = {**proc.spec.env, **changed}
            self.write_state()
        self.progress("reset: starting the services again")
        for proc in services:
            await proc.resume()
        await self.wait_working(60)
        took = time.perf_counter() - started
        differing = {k: v for k, v in settings.model_dump(include=set(LAB_SETTINGS)).items()
                     if getattr(self.base_settings, k) != v}
        self.log.warning("lab_reset", seconds=round(took, 3), kept_data=keep_data, settings=differing)
        return {"reset": True, "seconds": round(took, 3), "initial_stock": self.settings.initial_stock,
                "kept_data": keep_data, "settings": differing}

    async def _empty_topics(self) -> None:
        s = self.settings
        if "broker" in self.processes:  # embedded: a restarted broker keeps nothing
            broker_proc = self.processes["broker"]
            await broker_proc.stop(timeout_s=5)
            await broker_proc.start()
            await wait_port(s.broker_port, 15, self.network.host_address if self.network else "127.0.0.1")
        else:  # an external Kafka: delete the lab's topics and wait until they are gone
            await bus.delete_topics(s)
        await bus.ensure_topics(s)

    # ---- control API ------------------------------------------------------------------------------

    async def _start_control(self) -> None:
        app = create_app(self.settings, "supervisor", self.log, openapi=supervisor_openapi(self.settings))

        async def processes(_request: web.Request) -> web.Response:
            return json_response({"processes": [p.describe() for p in self.processes.values()],
                                  "host": self.settings.host, "started_at": self.started_at,
                                  "ready_at": self.ready_at})

        def named(request: web.Request) -> ManagedProcess:
            name = request.match_info["name"]
            if name not in self.processes:
                raise ApiError(404, f"no process named {name[:40]!r}", known=sorted(self.processes))
            return self.processes[name]

        async def restart(request: web.Request) -> web.Response:
            require_token(request)
            proc = named(request)
            await proc.restart()
            return json_response(proc.describe())

        async def kill(request: web.Request) -> web.Response:
            require_token(request)
            proc = named(request)
            sent = proc.signal(signal.SIGKILL)
            return json_response({"killed": sent, "process": proc.describe()})

        async def stop(request: web.Request) -> web.Response:
            """Stop a process and leave it stopped (no restart) until `start`: a replica taken down on purpose."""
            require_token(request)
            proc = named(request)
            if not proc.running:
                raise ApiError(409, f"{proc.spec.name} is not running", process=proc.describe())
            stopping_at = time.time()
            if proc.spec.replica is not None:  # the monitor opens the episode: TTD counts from this moment
                stop = kinds()["stop"].params()  # type: ignore[call-arg]  # the stop fault has no parameter
                self.reporter.report(observation(proc.spec.replica, "fault_injected", False, "supervisor",
                                                 stopping_at, fault={"kind": stop.kind, "params": stop.params(),
                                                                     "activated_at": stopping_at}), urgent=True)
            await proc.stop()
            self.log.warning("process_stopped", name=proc.spec.name)
            return json_response({"stopped": True, "stopping_at": stopping_at, "stopped_at": time.time(),
                                  "process": proc.describe()})

        async def start(request: web.Request) -> web.Response:
            """Start a stopped process again; for a replica, the moment it is spawned clears its "stop" fault."""
            require_token(request)
            proc = named(request)
            if proc.running:
                raise ApiError(409, f"{proc.spec.name} is already running", process=proc.describe())
            await proc.start()
            proc.arm_spare_later()
            assert proc.started_at is not None
            if proc.spec.replica is not None:
                self.reporter.report(observation(proc.spec.replica, "fault_cleared", True, "supervisor",
                                                 proc.started_at), urgent=True)
            self.log.warning("process_started", name=proc.spec.name)
            return json_response({"started": True, "started_at": proc.started_at, "process": proc.describe()})

        async def reset(request: web.Request) -> web.Response:
            """Fresh data for a new experiment, with its lab settings (see Lab.reset)."""
            require_token(request)
            body = checked(ResetRequest, await read_json(request)) if request.can_read_body else ResetRequest()
            if self._resetting.locked():
                raise ApiError(409, "a reset is already running")
            overrides = body.settings.model_dump(exclude_none=True)
            try:
                self.base_settings.changed(overrides)
            except ValueError as e:
                raise ApiError(400, f"these settings do not fit together: {e}") from None
            async with self._resetting:
                return json_response(await self.reset(overrides, body.keep_data))

        async def shutdown(request: web.Request) -> web.Response:
            require_token(request)
            os.kill(os.getpid(), signal.SIGTERM)
            return json_response({"stopping": True}, status=202)

        async def health(_request: web.Request) -> web.Response:
            return json_response(health_body("supervisor", self.ready_at is not None))

        app.router.add_get("/processes", processes)
        app.router.add_post("/processes/{name}/restart", restart)
        app.router.add_post("/processes/{name}/kill", kill)
        app.router.add_post("/processes/{name}/stop", stop)
        app.router.add_post("/processes/{name}/start", start)
        app.router.add_post("/reset", reset)
        app.router.add_post("/shutdown", shutdown)
        self._add_netfault_routes(app)
        app.router.add_get("/health", health)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.settings.supervisor_port).start()

    def _add_netfault_routes(self, app: web.Application) -> None:
        """GET/POST/DELETE /netfaults: partition and netem, applied here in the root namespace (netns mode only)."""

        def active(request: web.Request) -> NetFaults:
            require_token(request)
            if self.netfaults is None:
                raise ApiError(409, "network faults need the namespace lab: start it with `faultlab up --netns`")
            return self.netfaults

        async def list_faults(request: web.Request) -> web.Response:
            return json_response({"netns": self.network is not None,
                                  "faults": self.netfaults.describe() if self.netfaults else []})

        async def inject(request: web.Request) -> web.Response:
            faults = active(request)
            try:
                fault = parse_net_fault(await read_json(request), self.settings.replica_ids)
                await asyncio.to_thread(faults.inject, fault)
            except FaultError as exc:
                raise ApiError(400, str(exc)) from None
            except NetFaultUnsupported as exc:
                raise ApiError(501, str(exc)) from None
            except netns.NetnsError as exc:
                raise ApiError(500, str(exc)) from None
            described = fault.describe()
            for replica in fault.replicas():  # the monitor opens an episode: TTD counts from the rule taking effect
                self.reporter.report(observation(replica, "fault_injected", False, "supervisor", fault.activated_at,
                                                 fault=described), urgent=True)
            self.log.warning("netfault_injected", fault=described)
            return json_response({"fault": described})

        async def clear(request: web.Request) -> web.Response:
            faults = active(request)
            query = request.query
            instance = None
            if "instance" in query:
                if not query["instance"].isdigit() or int(query["instance"]) not in self.settings.replica_ids:
                    raise ApiError(400, f"instance must be one of {self.settings.replica_ids}")
                instance = int(query["instance"])
            kind = query.get("kind")
            if kind is not None and kind not in of_target(NETWORK):
                raise ApiError(400, f"kind must be one of: {', '.join(of_target(NETWORK))}")
            cleared = await asyncio.to_thread(faults.clear, instance, kind)
            cleared_at = time.time()
            for replica in sorted({r for f in cleared for r in f.replicas()}):
                self.reporter.report(observation(replica, "fault_cleared", True, "supervisor", cleared_at),
                                     urgent=True)
            return json_response({"cleared": [f.describe() for f in cleared], "cleared_at": cleared_at})

        app.router.add_get("/netfaults", list_faults)
        app.router.add_post("/netfaults", inject)
        app.router.add_delete("/netfaults", clear)

    # ---- state and stop ---------------------------------------------------------------------------

    def write_state(self) -> None:
        state: dict[str, Any] = {
            "pid": os.getpid(), "started_at": self.started_at, "ready_at": self.ready_at,
            "settings": {k: v for k, v in self.settings.to_env().items() if k not in SECRETS},
            "processes": {name: p.pid for name, p in self.processes.items()},
        }
        path = self.home / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    async def stop(self) -> None:
        """Stop services first, then broker and database; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self._stop_processes()
        finally:
            if self.network is not None:
                await asyncio.to_thread(self.network.destroy)

    async def _stop_processes(self) -> None:
        order = ["dashboard", "voter", "orders", *[f"inventory-{r}" for r in self.settings.replica_ids], "monitor"]
        services = [self.processes[n] for n in order if n in self.processes]
        await asyncio.gather(*(p.stop() for p in services))
        with contextlib.suppress(Exception):
            await self.reporter.stop()
        for name in ("broker", "postgres"):
            if name in self.processes:
                await self.processes[name].stop(timeout_s=10)
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            (self.home / STATE_FILE).unlink()
        self._log_file.close()

    async def __aenter__(self) -> Lab:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
