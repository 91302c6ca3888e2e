"""One line per event, key=value, with `service` and `replica` bound."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class Logger:
    """A tiny structured logger writing to stderr (the supervisor sends it to the service's log file)."""

    def __init__(self, stream: TextIO | None = None, **bound: Any) -> None:
        self.stream = stream
        self.bound = bound

    def bind(self, **more: Any) -> Logger:
        return Logger(self.stream, **{**self.bound, **more})

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
        parts = [f"ts={stamp}", f"level={level}", f"event={_fmt(event)}"]
        parts += [f"{k}={_fmt(v)}" for k, v in {**self.bound, **fields}.items() if v is not None]
        stream = self.stream or sys.stderr
        try:
            stream.write(" ".join(parts) + "\n")
            stream.flush()
        except ValueError:  # the log file was closed at shutdown: the event goes to stderr instead
            sys.stderr.write(" ".join(parts) + "\n")

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)


def get_logger(service: str, replica: int | None = None, stream: TextIO | None = None) -> Logger:
    return Logger(stream, service=service, replica=replica)
