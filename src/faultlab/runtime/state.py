"""The lab folder's record of the running lab: the supervisor writes it (`lab.json`, without secrets), the CLI reads
the running lab's settings back from it with the operator token and the database password."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from faultlab.core.config import DB_PASSWORD_FILE, STATE_FILE, TOKEN_FILE, Settings

SECRETS = ("FAULTLAB_ADMIN_TOKEN", "FAULTLAB_DB_PASSWORD")  # never written to lab.json


def write_state(home: Path, settings: Settings, **fields: Any) -> None:
    """Record the running lab (its settings without secrets, plus `fields`) in one atomic write."""
    state = {**fields, "settings": {k: v for k, v in settings.to_env().items() if k not in SECRETS}}
    path = home / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


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
