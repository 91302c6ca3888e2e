"""The running lab's settings as its lab folder records them: ports, the operator token, the database password."""

from __future__ import annotations

import json
import os
from typing import Any

from faultlab.config import DB_PASSWORD_FILE, STATE_FILE, TOKEN_FILE, Settings


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
