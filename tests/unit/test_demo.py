"""The demo's narration: each step said in one sentence with the run's own figures, in both languages, from a state
the page and the terminal share; the dashboard serves it with the replicas' cards."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from faultlab.core.config import Settings
from faultlab.lab.demo import DEMO_FILE, DemoState, DemoStep, Narrator, described, read_state, sentence
from faultlab.lab.experiment_reader import read_experiment
from faultlab.lab.report_model import Episode, LoadResult, PhaseResult


def state(*steps: DemoStep) -> DemoState:
    return DemoState(started_at=1.0, updated_at=1.0, steps=list(steps), health_timeout_ms=150, detector="error-rate")


LATENCY = DemoStep(phase="latency", kind="latency", replica=2, params={"latency_ms": 1200.0}, stage="recovered",
                   ttd_ms=171.4, detected_by="monitor: timeout", ttr_ms=95.2)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "Replica 2 now answers 1200 ms late; the monitor's checks give up after 150 ms; OFF after 171 ms "
           "(monitor: timeout); ON again 95 ms after the fault ended."),
    ("es", "La réplica 2 ahora responde 1200 ms tarde; los health checks del monitor se rinden a los 150 ms; OFF "
           "tras 171 ms (monitor: timeout); de nuevo ON 95 ms después de terminar el fallo."),
])
def test_a_step_is_one_sentence_with_the_runs_figures(lang: str, expected: str) -> None:
    """The fault's own parameters, the lab's check timeout, the TTD and the TTR measured, in the reader's language."""
    assert sentence(LATENCY, state(LATENCY), lang) == expected


def test_each_stage_says_what_is_known_so_far() -> None:
    """Waiting: the next fault; injected: the fault alone; a finished step with no detection says so."""
    waiting = DemoStep(phase="crash", kind="crash", replica=1)
    assert sentence(waiting, state(waiting), "en") == "Next: crash on replica 1."
    flaky = DemoStep(phase="intermittent", kind="intermittent", replica=3, params={"probability": 0.3},
                     stage="injected")
    assert sentence(flaky, state(flaky), "en") == ("Replica 3 now fails 30 % of its requests; the monitor's "
                                                   "error-rate detector watches its failed checks.")
    missed = flaky.model_copy(update={"stage": "missed"})
    assert sentence(missed, state(missed), "en").endswith("; not detected.")
    wrong = DemoStep(phase="incorrect", kind="incorrect", replica=1, params={"product_id": "PROD-001"},
                     stage="detected", ttd_ms=12.0, detected_by="voter: wrong")
    assert "wrong values for PROD-001" in sentence(wrong, state(wrong), "en")
    assert "OFF after 12 ms (voter: wrong)" in sentence(wrong, state(wrong), "en")


def test_the_demo_experiment_has_one_fault_of_each_of_the_guides_kinds() -> None:
    """demo.yaml: crash, latency, intermittent, incorrect, once each, about two minutes of load."""
    experiment, _source, _places = read_experiment(DEMO_FILE)
    assert [p.steps[0].spec.kind for p in experiment.phases] == ["crash", "latency", "intermittent", "incorrect"]
    assert experiment.repeat == 1
    seconds = sum(2 * experiment.load.settle_s + experiment.hold_s(p) for p in experiment.phases)
    assert 60 <= seconds <= 150


def test_the_narrator_follows_the_run_into_its_state_file(tmp_path: Path) -> None:
    """A finished phase gives its step the report's figures and the next step begins; the file is the page's."""
    settings = Settings(home=tmp_path)
    experiment, _source, _places = read_experiment(DEMO_FILE)
    narrator = Narrator(settings, experiment, title="demo")
    assert read_state(tmp_path) == narrator.state and narrator.state.steps[0].stage == "waiting"
    episode = Episode(replica=1, fault_kind="crash", activated_at=10.0, detected_at=10.012, detected_by="supervisor",
                      ttd_ms=12.0, ttr_ms=300.0)
    result = PhaseResult(phase="crash", repetition=1, ttd_ms=12.0, ttr_ms=300.0, passed=True, missed=[],
                         load_test_result=LoadResult(rps=20.0, avg_latency_ms=3.0, p95_latency_ms=5.0,
                                                     p99_latency_ms=6.0, success_rate=100.0),
                         episodes=[episode], injected_at=10.0)
    narrator.runner = SimpleNamespace(system=SimpleNamespace(recorded_events=lambda: []))
    narrator.phase_done(result)
    saved = read_state(tmp_path)
    assert saved is not None and saved.current == 1 and saved.steps[0].stage == "done"
    assert saved.timeline is not None and saved.timeline_step == 0 and saved.timeline["replica"] == 1
    shown = described(saved, "es")
    assert shown["steps"][0]["sentence"].startswith("La réplica 1 ahora cae (crash)")
    assert "OFF tras 12 ms (supervisor)" in shown["steps"][0]["sentence"]
    assert shown["steps"][1]["sentence"] == "A continuación: latency en la réplica 2."
    narrator.stop(interrupted=True)
    saved = read_state(tmp_path)
    assert saved is not None and saved.finished and saved.interrupted


def test_no_state_file_is_no_demo(tmp_path: Path) -> None:
    """A lab folder where no demo ran, or a file that is not a demo's state: nothing to show."""
    assert read_state(tmp_path) is None
    (tmp_path / "demo.json").write_text("{\"steps\": 3}")
    assert read_state(tmp_path) is None
