"""The experiment's view of the monitor's episodes: which event is a phase's detection and recovery."""

from __future__ import annotations

from typing import Any

from faultlab.core.client import LabClient
from faultlab.core.config import Settings
from faultlab.lab.events import MonitorEvents


def episode(phase: str, kind: str | None, activated: float | None, detected: float | None = None,
            recovered: float | None = None, replica: int = 1) -> dict[str, Any]:
    return {"type": "episode", "phase": phase, "replica": replica, "fault_kind": kind, "activated_at": activated,
            "detected_at": detected, "recovered_at": recovered}


def test_a_false_alarm_is_not_the_phases_fault() -> None:
    """An OFF with no fault announced (and its recovery) between injection and detection is skipped."""
    events = MonitorEvents(LabClient(Settings(monitor_port=9)))
    events.events = [
        episode("detected", None, None, detected=10.0),                      # false alarm, before the fault
        episode("recovered", None, None, detected=10.0, recovered=10.5),
        episode("opened", "latency", 20.0),
        episode("detected", None, None, detected=20.3, replica=2),            # another replica's
        episode("detected", None, None, detected=20.1),                      # a false alarm after injection
        episode("recovered", None, None, detected=20.1, recovered=20.15),
        episode("detected", "latency", 20.0, detected=20.2),
    ]
    found = events.latest_episode(1, 19.0, "detected_at")
    assert found is not None and found["fault_kind"] == "latency" and found["detected_at"] == 20.2
    assert events.latest_episode(1, 19.0, "recovered_at") is None
    events.events.append(episode("recovered", "latency", 20.0, detected=20.2, recovered=25.1))
    found = events.latest_episode(1, 19.0, "recovered_at")
    assert found is not None and found["recovered_at"] == 25.1
    assert events.latest_episode(1, 30.0, "detected_at") is None
