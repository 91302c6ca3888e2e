"""What run.sh runs: starts, stops and reports the example's processes (PostgreSQL, Kafka, the four services)."""

import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path

from backing import create_topics, init_database_when_ready, kafka_argv, postgres_user, prepare_postgres
from ports import check_ports
from processes import Failure, alive, healthy, port_free, port_open, recorded, spawn, stop, wait_for

HERE = Path(__file__).resolve().parent
REPLICAS = (1, 2, 3)
SERVICES = ("monitor-svc", *(f"inventory-svc-{n}" for n in REPLICAS), "orders-svc", "voter-svc")
STOP_ORDER = ("voter-svc", "orders-svc", *(f"inventory-svc-{n}" for n in REPLICAS), "monitor-svc", "kafka", "postgres")
DEFAULT_STOCK = "PROD-001=1000,PROD-002=500,PROD-003=750"


# ---- settings ---------------------------------------------------------------------------------------------------

def env_port(name, default):
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise Failure(f"{name} must be a port number (1-65535), not {value!r}")
    return int(value)


def env_seconds(name, default):
    value = os.environ.get(name, str(default))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise Failure(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")
    return seconds


def parse_stock(text):
    stock = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        product, _, amount = item.partition("=")
        if not product or not amount.strip().isdigit():
            raise Failure(f"GUIDE_STOCK must look like {DEFAULT_STOCK}, not {text!r}")
        stock[product.strip()] = int(amount)
    if not stock:
        raise Failure("GUIDE_STOCK names no product")
    return stock


def settings_from_env():
    """The ports and options of a new `up`, from GUIDE_* variables (defaults: the guide's ports)."""
    base = env_port("GUIDE_INVENTORY_BASE_PORT", 5001)
    ports = {f"inventory-svc-{n}": base + n - 1 for n in REPLICAS}
    ports.update({"monitor-svc": env_port("GUIDE_MONITOR_PORT", 5004), "voter-svc": env_port("GUIDE_VOTER_PORT", 5005),
                  "orders-svc": env_port("GUIDE_ORDERS_PORT", 5006), "kafka": env_port("GUIDE_KAFKA_PORT", 9093),
                  "postgres": env_port("GUIDE_POSTGRES_PORT", 5433)})
    if len(set(ports.values())) != len(ports) or max(ports.values()) > 65535:
        raise Failure(f"every component needs its own port: {ports}")
    return {"ports": ports, "stock": parse_stock(os.environ.get("GUIDE_STOCK", DEFAULT_STOCK)),
            "db_password": os.environ.get("GUIDE_DB_PASSWORD", "postgres"),
            "up_timeout_s": env_seconds("GUIDE_UP_TIMEOUT_S", 60)}


def run_dir():
    return Path(os.environ.get("GUIDE_RUN_DIR", HERE / "run")).resolve()


def read_state(run):
    try:
        return json.loads((run / "state.json").read_text())
    except FileNotFoundError:
        return None


def service_env(settings, name):
    """The environment one service reads (the variables of a docker-compose file)."""
    ports = settings["ports"]
    urls = ",".join(f"http://127.0.0.1:{ports[f'inventory-svc-{n}']}" for n in REPLICAS)
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(ports[name]), "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": f"postgresql://postgres:{settings['db_password']}@127.0.0.1:{ports['postgres']}/experimento",
           "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports['kafka']}", "INVENTORY_URLS": urls}
    if name.startswith("inventory-svc-"):
        env["INSTANCE_ID"] = name.rsplit("-", 1)[1]
    return env


def service_argv(name):
    folder = "inventory-svc" if name.startswith("inventory-svc-") else name
    return [sys.executable, str(HERE / folder / "app.py")]


# ---- commands ---------------------------------------------------------------------------------------------------

def locked(run):
    """One command at a time on a run folder."""
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / ".lock", "w")  # noqa: SIM115 (held until the process exits)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def up():
    run = run_dir()
    _lock = locked(run)
    settings = settings_from_env()
    running = [name for name in STOP_ORDER if (r := recorded(run, name)) is not None and alive(r)]
    if running:
        raise Failure(f"already running in {run} ({', '.join(running)}): `run.sh down` first")
    check_ports(settings["ports"])
    state = run / "state.json"
    state.write_text(json.dumps(settings, indent=2))
    state.chmod(0o600)
    ports = settings["ports"]
    started = time.monotonic()
    try:
        user = postgres_user()
        spawn(run, "postgres", prepare_postgres(run, settings, user), as_user=user)
        spawn(run, "kafka", kafka_argv(ports["kafka"]))
        wait_for("PostgreSQL and Kafka", lambda: port_open(ports["postgres"]) and port_open(ports["kafka"]),
                 run, ("postgres", "kafka"), 30)
        init_database_when_ready(settings)
        create_topics(ports["kafka"])
        for name in SERVICES:
            spawn(run, name, service_argv(name), env=service_env(settings, name))
        waiting = set(SERVICES)

        def all_healthy():
            waiting.difference_update({name for name in waiting if healthy(ports[name])})
            return not waiting

        wait_for("every service's /health", all_healthy, run, SERVICES, settings["up_timeout_s"])
    except BaseException:
        print("run.sh up: stopping what was started", file=sys.stderr)
        down(quiet=True, lock=False)
        raise
    print(f"guide system up in {time.monotonic() - started:.1f} s (run folder {run}):")
    for name, port in ports.items():
        print(f"  {name:<16} 127.0.0.1:{port}")


def down(quiet=False, lock=True):
    run = run_dir()
    _lock = locked(run) if lock else None
    stopped = [name for name in STOP_ORDER if stop(run, name)]
    (run / "state.json").unlink(missing_ok=True)
    if not quiet:
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status():
    """One line per component: its port, its process, whether it answers; exit 0 only when all of them do."""
    run = run_dir()
    settings = read_state(run)
    if settings is None:
        print(f"not running (no {run / 'state.json'})")
        return 3
    everything_up = True
    for name in ("postgres", "kafka", *SERVICES):
        port = settings["ports"][name]
        record = recorded(run, name)
        running = record is not None and alive(record)
        answers = (port_open(port) if name in ("postgres", "kafka") else healthy(port)) if running else False
        everything_up &= running and answers
        process = f"pid {record['pid']}" if running else "stopped"
        print(f"{name:<16} 127.0.0.1:{port:<6} {process:<12} {'UP' if answers else 'DOWN'}")
    return 0 if everything_up else 1


def replica_name(argv):
    if len(argv) != 1 or argv[0] not in {str(n) for n in REPLICAS}:
        raise Failure(f"give the replica's number: {', '.join(map(str, REPLICAS))}")
    return f"inventory-svc-{argv[0]}"


def restart(argv):
    """Stop replica N if it runs, start it again, and wait until it answers /health (docker compose restart)."""
    name = replica_name(argv)
    run = run_dir()
    _lock = locked(run)
    settings = read_state(run)
    if settings is None:
        raise Failure("the system is not up (`run.sh up` first)")
    port = settings["ports"][name]
    started = time.monotonic()
    stop(run, name, timeout_s=5)
    wait_for(f"port {port} to be free", lambda: port_free(port), run, (), 10)
    pid = spawn(run, name, service_argv(name), env=service_env(settings, name))
    wait_for(f"{name}'s /health", lambda: healthy(port), run, (name,), 30)
    print(f"{name} restarted (pid {pid}), answering /health after {time.monotonic() - started:.1f} s")


def stop_replica(argv):
    name = replica_name(argv)
    run = run_dir()
    _lock = locked(run)
    print(f"{name} stopped" if stop(run, name) else f"{name} was not running")


def main(argv):
    commands = {"up": up, "down": down, "status": status,
                "restart": lambda: restart(argv[1:]), "stop": lambda: stop_replica(argv[1:])}
    if not argv or argv[0] not in commands or (argv[0] in ("up", "down", "status") and len(argv) > 1):
        print("usage: run.sh up | down | status | restart N | stop N", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed `up` still stops what it started
    try:
        return commands[argv[0]]() or 0
    except Failure as error:
        print(f"run.sh {argv[0]}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
