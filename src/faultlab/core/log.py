"""One line per event, key=value, with `service` and `replica` bound — on the standard library's logging.

Services log through `logging` (so anything else that logs in the process, aiokafka or aiohttp, lands in the
same file in the same shape); `KeyValueFormatter` writes `ts=… level=… event=… service=… key=value…`, and
`Logger` is the small front that takes an event name and fields, as structlog does.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

ROOT = "faultlab"


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """`ts=2026-11-30T10:00:00.123Z level=warning event=… key=value …`: one greppable line per record."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        parts = [f"ts={stamp}", f"level={record.levelname.lower()}", f"event={_fmt(record.getMessage())}"]
        if not record.name.startswith(ROOT):  # a library's own record: say whose
            parts.append(f"logger={_fmt(record.name)}")
        parts += [f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None]
        if record.exc_info:
            parts.append(f"exc={_fmt(self.formatException(record.exc_info))}")
        return " ".join(parts)


class _SafeStreamHandler(logging.StreamHandler):
    """A stream handler whose stream may be closed at shutdown: the line goes to stderr instead of an error."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(self.stream, "closed", False):
                sys.stderr.write(self.format(record) + "\n")
                return
        except ValueError:
            return
        super().emit(record)


def _handler(stream: TextIO | None) -> logging.Handler:
    handler = _SafeStreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    return handler


def configure(level: int = logging.INFO) -> None:
    """The process's logging: key=value lines on stderr (the supervisor sends a service's stderr to its log file),
    libraries' warnings included. Called once, first thing, by each service (safe to call again)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        root.addHandler(_handler(None))
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    logging.getLogger(ROOT).setLevel(level)


class Logger:
    """Events with fields, bound values (`service`, `replica`) added to every line."""

    def __init__(self, logger: logging.Logger, **bound: Any) -> None:
        self._logger = logger
        self.bound = bound

    def bind(self, **more: Any) -> Logger:
        return Logger(self._logger, **{**self.bound, **more})

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, "%s", event, extra={"fields": {**self.bound, **fields}})

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)


def get_logger(service: str, replica: int | None = None, stream: TextIO | None = None) -> Logger:
    """A service's logger. With `stream` (the supervisor's own log file), its lines go only there."""
    name = f"{ROOT}.{service}" + (f".{replica}" if replica is not None else "")
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if stream is not None:
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(_handler(stream))
        logger.propagate = False
    elif not logger.handlers and not logging.getLogger().handlers:
        configure()
    return Logger(logger, service=service, replica=replica)
