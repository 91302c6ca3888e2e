"""The operator's client: finds the running lab (its lab.json and token) and calls its APIs."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from faultlab.config import DB_PASSWORD_FILE, STATE_FILE, TOKEN_FILE, Settings


class LabNotRunning(RuntimeError):
    """No lab answers at the configured address."""


class ApiCallError(RuntimeError):
    """A service answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def running_settings(settings: Settings) -> Settings:
    """The settings of the lab running from this lab folder (ports, token), else the given ones."""
    home = settings.home.resolve()
    state_path = home / STATE_FILE
    update: dict[str, Any] = {}
    if state_path.exists():
        state = json.loads(state_path.read_text())
        env = state.get("settings", {})
        saved = Settings.model_validate({k[len("FAULTLAB_"):].lower(): _parse(v) for k, v in env.items()})
        update = saved.model_dump()
    token_path = home / TOKEN_FILE
    token = settings.admin_token or os.environ.get("FAULTLAB_ADMIN_TOKEN")
    if not token and token_path.exists():
        token = token_path.read_text().strip()
    update["admin_token"] = token
    password = settings.db_password or os.environ.get("FAULTLAB_DB_PASSWORD")
    if not password and (home / DB_PASSWORD_FILE).exists():
        password = (home / DB_PASSWORD_FILE).read_text().strip()
    update["db_password"] = password
    update["home"] = home
    return settings.model_copy(update=update)


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


class LabClient:
    """Small synchronous HTTP client for the CLI."""

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    def call(self, method: str, url: str, body: Any = None, auth: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            if not self.settings.admin_token:
                raise ApiCallError(401, {"error": "no operator token: start the lab or set FAULTLAB_ADMIN_TOKEN"})
            request.add_header("Authorization", f"Bearer {self.settings.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiCallError(exc.code, parsed) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise LabNotRunning(f"{url}: {getattr(exc, 'reason', exc)}") from None

    def replica(self, instance: int) -> str:
        if instance not in self.settings.replica_ids:
            raise ValueError(f"--instance must be one of {self.settings.replica_ids}")
        return self.settings.replica_url(instance)

    def inject(self, instance: int, fault: dict[str, Any]) -> Any:
        return self.call("POST", f"{self.replica(instance)}/faults", fault, auth=True)

    def clear(self, instance: int, kind: str | None = None) -> Any:
        suffix = f"?kind={kind}" if kind else ""
        return self.call("DELETE", f"{self.replica(instance)}/faults{suffix}", auth=True)

    def monitor_status(self) -> Any:
        return self.call("GET", f"{self.settings.service_url('monitor')}/status")

    def failures(self) -> Any:
        return self.call("GET", f"{self.settings.service_url('monitor')}/failures")

    def processes(self) -> Any:
        return self.call("GET", f"http://127.0.0.1:{self.settings.supervisor_port}/processes")

    def restart(self, name: str) -> Any:
        return self.call("POST", f"http://127.0.0.1:{self.settings.supervisor_port}/processes/{name}/restart",
                         auth=True)

    def reset(self) -> Any:
        return self.call("POST", f"http://127.0.0.1:{self.settings.supervisor_port}/reset", auth=True)

    def shutdown(self) -> Any:
        return self.call("POST", f"http://127.0.0.1:{self.settings.supervisor_port}/shutdown", auth=True)


def lab_folder_exists(home: Path) -> bool:
    return (home / STATE_FILE).exists()
