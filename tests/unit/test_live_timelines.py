"""The live page's timelines from the services' memory: the newest episodes the monitor's last minute covers, newest
first, with every lane drawn from the recent observations and the followed state events; older episodes left out."""

from __future__ import annotations

import jsonschema

from faultlab.core.config import Settings
from faultlab.lab.dashboard.timelines import RECENT_EPISODES, live_timelines
from faultlab.lab.timeline import build_timeline, replay
from tests.unit.test_timeline import SCHEMA, T0, latency_history


def test_the_recent_episode_is_drawn_from_the_monitors_memory() -> None:
    """The latency episode the recent observations hold is drawn as build_timeline draws it from them; an episode
    that began before the oldest kept observation (its lanes would be empty) is left out."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    older = {"replica": 1, "fault_kind": "crash", "activated_at": T0 - 100, "detected_at": T0 - 99.9,
             "cleared_at": T0 - 99.9, "recovered_at": T0 - 99.0}
    states = [{"type": "state", "replica": 2, "status": "OFF", "previous": "ON", "at": T0 + 0.32, "reason": "x",
               "code": "detector", "params": {"detector": "error-rate", "kind": "timeout"}}]
    [doc] = live_timelines(Settings(), [older, episode], entries, states, kept_from=entries[0]["t"])
    jsonschema.validate(doc, SCHEMA)
    assert doc == build_timeline(episode, Settings(), observations=entries, monitor_events=states)
    assert doc["lanes"]["checks"]["recorded"] and doc["lanes"]["monitor"]["source"] == "events"
    assert live_timelines(Settings(), [older, episode], [], [], kept_from=None) == []


def test_only_the_newest_episodes_are_drawn_newest_first() -> None:
    """Of five episodes in the memory, the newest RECENT_EPISODES, the newest first; without state events the monitor
    lane is the replay's."""
    entries = latency_history()
    [episode] = replay(entries, 2, Settings()).episodes
    failures = [{**episode, "activated_at": episode["activated_at"] + i * 0.1} for i in range(5)]
    docs = live_timelines(Settings(), failures, entries, [], kept_from=entries[0]["t"])
    assert len(docs) == RECENT_EPISODES
    assert [d["fault"]["activated_at"] for d in docs] == [failures[i]["activated_at"] for i in (4, 3, 2)]
    assert docs[0]["lanes"]["monitor"]["source"] == "replay"
