"""Log lines: one key=value line per event on the standard library's logging, bound fields on every line."""

from __future__ import annotations

import io
import logging

from faultlab.core.log import KeyValueFormatter, get_logger


def test_an_event_is_one_key_value_line_with_bound_fields() -> None:
    """ts, level, event, then service, replica and the event's fields; values with spaces quoted, None left out."""
    out = io.StringIO()
    log = get_logger("inventory", 2, stream=out)
    log.warning("fault_injected", kind="latency", params="a b", nothing=None)
    line = out.getvalue().strip()
    assert "\n" not in line and line.startswith("ts=") and line.endswith('params="a b"')
    assert " level=warning event=fault_injected service=inventory replica=2 kind=latency " in line
    assert "nothing" not in line
    log.bind(product="PROD-001").info("applied")
    assert "product=PROD-001" in out.getvalue().splitlines()[1]


def test_a_librarys_record_keeps_the_shape_and_says_whose_it_is() -> None:
    """A record from another logger (aiokafka, say) becomes the same kind of line, with logger=…"""
    record = logging.LogRecord("aiokafka.conn", logging.WARNING, __file__, 1, "connection to %s lost", ("b",), None)
    line = KeyValueFormatter().format(record)
    assert 'event="connection to b lost"' in line and "logger=aiokafka.conn" in line and "level=warning" in line


def test_a_closed_stream_does_not_raise() -> None:
    """At shutdown the supervisor's log file may be closed before the last event: the event is not an error."""
    out = io.StringIO()
    log = get_logger("supervisor-closed", stream=out)
    out.close()
    log.info("stopping")
