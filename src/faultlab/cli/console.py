"""What every CLI command prints with and reaches the running lab through: the console, the settings, the client."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from faultlab.core import i18n
from faultlab.core.config import Settings

T = TypeVar("T")


def console() -> Any:
    from rich.console import Console

    return Console(log_path=False)  # progress lines say what happened, not which line of faultlab printed them


def settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "home", None):
        overrides["home"] = Path(args.home)
    return Settings(**overrides)


def client(args: argparse.Namespace, timeout_s: float = 5.0) -> Any:
    """The API client for the lab running from this lab folder (not started: `async with` it)."""
    from faultlab.core.client import LabClient
    from faultlab.runtime.state import running_settings

    return LabClient(running_settings(settings(args)), timeout_s=timeout_s)


def with_client(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]], timeout_s: float = 5.0) -> T:
    """Run `work(client)` on an event loop of its own, the client opened and closed around it."""

    async def run() -> T:
        async with client(args, timeout_s) as lab:
            return await work(lab)

    return asyncio.run(run())


def wide_console() -> Any:
    """A Rich console; wide enough for the summary table when the output is a file or a pipe."""
    from rich.console import Console

    console = Console(log_path=False)  # progress lines say what happened, not which line of faultlab printed them
    return console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=150, log_path=False)


def number(value: Any, digits: int = 0) -> str:
    """A figure in the reader's language with `digits` decimals ("1.365,5" in Spanish), or "-" where there is none."""
    return i18n.number(value, digits)


def count(value: int | None) -> str:
    """A count the report has (in the reader's language: "1.365" in Spanish), or "-" where it has none."""
    return i18n.number(value, 0)


def print_problems(console: Any, problems: Iterable[Any], headline: str) -> None:
    """What is wrong with a refused document: its headline (Rich markup) in bold red, then each problem on a line of
    its own, in the reader's language."""
    from rich.markup import escape

    console.print("[bold red]" + headline + "[/]")
    for problem in problems:
        console.print("  " + escape(problem.text(i18n.active())))


def decimal(text: str) -> float:
    """An option's number as a person types it: 0.3, or 0,3 as Spanish writes it (no thousands separators)."""
    import argparse

    value = text.strip()
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(i18n._("not a number: {value}").format(value=text)) from None


def typed(value: float | int) -> str:
    """A default as an option takes it, with the reader's decimal mark and no thousands separator ("0,2", "2000")."""
    from babel.numbers import format_decimal

    return format_decimal(value, format="0.###", locale=i18n.active())
