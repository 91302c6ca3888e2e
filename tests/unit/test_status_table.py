"""`faultlab status` rendered from a recorded status at 60, 80 and 120 columns, in English and Spanish."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from faultlab.cli.status_table import print_status, status_rows, untrusted_line
from faultlab.core import i18n
from faultlab.core.config import Settings

SETTINGS = Settings(replicas=3)
T0 = 1_780_000_000.25

PROCESSES: dict[str, Any] = {"host": "127.0.0.1", "processes": [
    {"name": "postgres", "pid": 401234, "running": True, "restarts": 0, "auto_restart": False},
    {"name": "broker", "pid": 401240, "running": True, "restarts": 0, "auto_restart": False},
    {"name": "orders", "pid": 401301, "running": True, "restarts": 0, "auto_restart": True, "spare_pid": 401399},
    {"name": "inventory-1", "pid": 401310, "running": True, "restarts": 0, "auto_restart": True,
     "spare_pid": 401398},
    {"name": "inventory-2", "pid": 401311, "running": True, "restarts": 12, "auto_restart": True},
    {"name": "inventory-3", "pid": None, "running": False, "restarts": 3, "auto_restart": True},
    {"name": "monitor", "pid": 401320, "running": True, "restarts": 0, "auto_restart": True},
    {"name": "voter", "pid": 401321, "running": True, "restarts": 0, "auto_restart": True},
    {"name": "dashboard", "pid": 401322, "running": True, "restarts": 0, "auto_restart": True},
]}

MONITOR: dict[str, Any] = {
    "instances": [
        {"replica": 1, "status": "ON", "since": T0, "last_check": T0 + 41.5, "behind_ms": 0,
         "health": {"applied_seq": 123456, "faults": []}, "set_aside": 0},
        {"replica": 2, "status": "SUSPECT", "since": T0 + 30, "last_check": T0 + 41.6, "behind_ms": 1834.4,
         "reason": "health check timed out after 300 ms",
         "health": {"applied_seq": 123001, "faults": ["latency", "intermittent"]}, "set_aside": 2},
        {"replica": 3, "status": "OFF", "since": T0 + 35, "last_check": T0 + 41.7, "reason": "connection refused",
         "health": None, "set_aside": 0},
    ],
    "services": [{"service_name": "orders-svc", "status": "ON"}, {"service_name": "voter-svc", "status": "OFF"}],
    "rejected_records": {"bad signature": 4},
}


@pytest.fixture(params=["en", "es"])
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    before = i18n.active()
    i18n.activate(request.param)
    yield request.param
    i18n.activate(before)


def render(width: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """What `faultlab status` prints in a terminal COLUMNS wide (the CLI's console takes its width from COLUMNS)."""
    monkeypatch.setenv("COLUMNS", str(width))
    console = Console(file=io.StringIO(), log_path=False, color_system=None)
    assert console.width == width
    print_status(console, PROCESSES, MONITOR, SETTINGS)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_status_fits_the_terminal_and_keeps_names_and_states_whole(width: int, lang: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """At 60, 80 and 120 columns no line is longer than the terminal, nothing is cut with an ellipsis, and every
    process name and state is printed whole on a line of its own row."""
    text = render(width, monkeypatch)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, "\n" + text
    assert "…" not in text
    for proc in PROCESSES["processes"]:
        assert any(proc["name"] in line for line in lines), proc["name"]
    for state in ("SUSPECT", "OFF", "ON"):
        assert state in text


def test_wide_shows_every_column_and_narrow_drops_the_low_value_ones(lang: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """120 columns show the pid, the address and milliseconds; 80 drop the pid and the milliseconds but keep the
    address; 60 drop the address and the time too, and the detail is still there."""
    wide, eighty, sixty = (render(w, monkeypatch) for w in (120, 80, 60))
    assert "401310" in wide and "127.0.0.1:5001" in wide and ".250" in wide
    assert "401310" not in eighty and "127.0.0.1:5001" in eighty and ".250" not in eighty
    assert "127.0.0.1:5001" not in sixty and "401310" not in sixty
    for text in (wide, eighty, sixty):
        assert "123456" in text and "401398" in text  # applied position and warm spare, in the detail


def test_rows_carry_state_detail_and_reason_from_the_monitor(lang: str) -> None:
    """A replica's row takes its state from the monitor, its detail lists position, lag, faults and the reason it
    is not ON; a stopped process without a monitor entry is down."""
    rows = {r["process"]: r for r in status_rows(PROCESSES, MONITOR, SETTINGS)}
    assert rows["inventory-2"]["state"] == "[yellow]SUSPECT[/]"
    detail = rows["inventory-2"]["detail"]
    assert "123001" in detail and "1834" in detail and "latency, intermittent" in detail
    assert detail.endswith("(health check timed out after 300 ms)")
    assert rows["voter"]["state"] == "[red]OFF[/]" and rows["dashboard"]["state"] == i18n._("running")
    assert rows["inventory-3"]["pid"] == "-" and rows["inventory-3"]["restarts"] == "3"


def test_untrusted_records_are_reported_under_the_table(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records the lab set aside (error queue and replicas' set-aside counts) are summed into one line."""
    text = " ".join(render(80, monkeypatch).split())
    assert ("bad signature: 4" if lang == "en" else "firma inválida: 4") in text and ": 2" in text


def test_set_aside_records_are_shown_by_reason_in_the_readers_language(lang: str) -> None:
    """The replicas' set-aside records summed by reason, the error queue's and the results' by reason, and the
    events consumed as INVALID, each reason in the reader's language; nothing set aside, no line."""
    monitor = {"instances": [{"set_aside": 20, "set_aside_by_reason": {"other epoch": 20}, "invalid_events": 1},
                             {"set_aside": 21, "set_aside_by_reason": {"other epoch": 20, "not JSON": 1},
                              "invalid_events": 1}],
               "rejected_records": {"seen before": 3}, "results_set_aside": {"other epoch": 6}}
    line = untrusted_line(monitor)
    assert line is not None
    words = {"en": ("other epoch: 40", "seen before: 3", "other epoch: 6", "not JSON: 1", "INVALID"),
             "es": ("otra época: 40", "ya visto: 3", "otra época: 6", "no es JSON: 1", "INVALID")}[lang]
    for word in words:
        assert word in line, (word, line)
    assert line.rstrip().endswith("2")
    assert untrusted_line({"instances": [{"set_aside": 0, "invalid_events": 0}], "rejected_records": {}}) is None
