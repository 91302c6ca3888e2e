"""The supervisor: the whole lab as supervised local processes (database, broker, services), started, reset and
stopped; its HTTP API is `runtime/api.py`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from faultlab.core import bus, netns
from faultlab.core.client import ApiCallError, LabClient
from faultlab.core.config import DB_PASSWORD_FILE, STATE_FILE, TOKEN_FILE, Settings
from faultlab.core.db import ensure_database, replace_epoch
from faultlab.core.evidence import MonitorReporter, observation
from faultlab.core.log import get_logger
from faultlab.core.messages.supervisor import LAB_SETTINGS
from faultlab.core.netns import NetnsNetwork
from faultlab.faults.network import NetFaults
from faultlab.runtime import broker, postgres
from faultlab.runtime.api import SupervisorApi
from faultlab.runtime.process import ManagedProcess, ProcessSpec
from faultlab.runtime.state import SECRETS, write_state


class SupervisorError(RuntimeError):
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
                raise SupervisorError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s") from None
            await asyncio.sleep(0.01)


def _claim_network(settings: Settings) -> NetnsNetwork:
    """Namespaces for monitor, replicas, orders, voter and dashboard (claimed now, created by `start()`)."""
    reason = netns.unavailable_reason()
    if reason:
        raise SupervisorError(reason)
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


class Supervisor:
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
        self.api = SupervisorApi(self)
        self._stopped = False

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
            raise SupervisorError("ports already in use: " + ", ".join(busy)
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
        await self.api.start("127.0.0.1", self.settings.supervisor_port)
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
                    raise SupervisorError(f"the lab did not become ready in {timeout_s:.0f} s (waiting for: {waiting}); "
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
        epoch = None
        if not keep_data:
            self.progress("reset: emptying the broker's log")
            await self._empty_topics()
            self.progress("reset: dropping the orders' and replicas' data, a new epoch")
            epoch = await self._drop_data()
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
                "kept_data": keep_data, "settings": differing, "epoch": epoch}

    async def _drop_data(self) -> str:
        """Drop the orders' and replicas' schemas and replace the lab's epoch, in one transaction: the services start
        again on empty data in a new epoch, and a record sealed before it is set aside wherever it turns up."""
        conn = await asyncpg.connect(self.settings.dsn, timeout=10)
        try:
            async with conn.transaction():
                schemas = ["orders", *[f"inventory_{r}" for r in self.settings.replica_ids]]
                await conn.execute("DROP SCHEMA IF EXISTS " + ", ".join(schemas) + " CASCADE")
                if await conn.fetchval("SELECT to_regclass('monitor.instance_status')") is not None:
                    await conn.execute("DELETE FROM monitor.instance_status WHERE service_name = 'inventory-svc'")
                epoch = await replace_epoch(conn)
        finally:
            await conn.close()
        self.log.info("new_epoch", epoch=epoch)
        return epoch

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

    # ---- state and stop ---------------------------------------------------------------------------

    def write_state(self) -> None:
        write_state(self.home, self.settings, pid=os.getpid(), started_at=self.started_at, ready_at=self.ready_at,
                    processes={name: p.pid for name, p in self.processes.items()})

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
        await self.api.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.home / STATE_FILE).unlink()
        self._log_file.close()

    async def __aenter__(self) -> Supervisor:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
