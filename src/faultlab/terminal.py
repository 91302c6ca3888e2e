"""What every CLI command prints with and reaches the running lab through: the console, the settings, the client."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from faultlab.config import Settings


def console() -> Any:
    from rich.console import Console

    return Console(log_path=False)  # progress lines say what happened, not which line of faultlab printed them


def settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "home", None):
        overrides["home"] = Path(args.home)
    return Settings(**overrides)


def client(args: argparse.Namespace) -> Any:
    from faultlab.client import LabClient, running_settings

    return LabClient(running_settings(settings(args)))


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def wide_console() -> Any:
    """A Rich console; wide enough for the summary table when the output is a file or a pipe."""
    from rich.console import Console

    console = Console(log_path=False)  # progress lines say what happened, not which line of faultlab printed them
    return console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=150, log_path=False)
