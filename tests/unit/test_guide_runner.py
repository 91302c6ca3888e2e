"""The runner on a system built to the guide's contract, without running it: what each phase can do on such a system
(skipped with the reason, or run as far as it can), the order (a phase that leaves a replica down runs last, once),
and how the report judges what was measured and nothing else."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.core.said import text_of
from faultlab.lab.experiment import ExperimentRunner
from faultlab.lab.phase_run import PhaseRun
from faultlab.lab.phases import GUIDE_SYSTEM_PHASES, PHASES, build_experiment
from faultlab.lab.recorder import LoadRecorder
from faultlab.lab.report_stats import phase_statistics
from faultlab.lab.systems.contract import guide_contract
from faultlab.lab.systems.guide import GuideSystem

COMMANDS = {"restart_command": "restart {n}", "stop_command": "stop {n}", "start_command": "start {n}"}


def system(**overrides: Any) -> GuideSystem:
    return GuideSystem(guide_contract(**overrides))


def test_what_each_phase_can_do_on_a_guide_system() -> None:
    """Without commands: two-down skipped (no stop), a crash runs without its recovery; stale and hang have no name
    in the guide's /inject-failure; without a monitor a fault runs, its TTD and TTR not measured."""
    bare = system()
    assert bare.missing_for(PHASES["two-down"]) == ["stop"]
    assert bare.missing_for(PHASES["crash"]) == [] and bare.unmeasured_for(PHASES["crash"]) == ["restart"]
    assert bare.leaves_down(PHASES["crash"]) and not bare.leaves_down(PHASES["latency"])
    assert bare.missing_for(PHASES["stale"]) == ["kind"] and bare.missing_for(PHASES["hang"]) == ["kind"]
    assert bare.missing_for(PHASES["partition"]) == ["netns"]
    equipped = system(replicas=COMMANDS)
    assert [equipped.missing_for(PHASES[p]) for p in GUIDE_SYSTEM_PHASES] == [[]] * 6
    assert not any(equipped.unmeasured_for(PHASES[p]) for p in GUIDE_SYSTEM_PHASES)
    blind = system(monitor={"url": None}, replicas=COMMANDS)
    assert blind.missing_for(PHASES["latency"]) == [] and blind.unmeasured_for(PHASES["latency"]) == ["monitor"]
    assert blind.unmeasured_for(PHASES["baseline"]) == []
    abilities = blind.abilities
    assert not (abilities.reset or abilities.lab_settings or abilities.warm_spares or abilities.netns)


def test_a_phase_that_leaves_a_replica_down_runs_last_and_once() -> None:
    """Crash without a restart command: every repetition of the others first, then crash once, its other
    repetitions reported as not run; with a restart command the order is the experiment's."""
    experiment = build_experiment(phases=list(GUIDE_SYSTEM_PHASES), repeat=2)
    order = ExperimentRunner(Settings(), experiment, system=system()).schedule()
    assert [(p.name, rep, runs) for p, rep, runs in order] == [
        ("baseline", 1, True), ("latency", 1, True), ("intermittent", 1, True), ("incorrect", 1, True),
        ("two-down", 1, True), ("baseline", 2, True), ("latency", 2, True), ("intermittent", 2, True),
        ("incorrect", 2, True), ("two-down", 2, True), ("crash", 1, True), ("crash", 2, False)]
    same = ExperimentRunner(Settings(), experiment, system=system(replicas=COMMANDS)).schedule()
    assert [(p.name, rep) for p, rep, _runs in same] == [(p, r) for r in (1, 2) for p in GUIDE_SYSTEM_PHASES]


def _run(name: str, repetition: int, **fields: Any) -> PhaseRun:
    recorder = LoadRecorder()
    window = recorder.open(f"{name}#{repetition}", 100.0)
    recorder.close(window, 101.0)
    return PhaseRun(PHASES[name], repetition, window, **fields)


def test_what_was_not_measured_is_not_judged() -> None:
    """A crash whose recovery could not be measured passes on its TTD alone; with a TTD missing it still fails; the
    report judges the repetition that ran, counts the one not run, and says what was not measured."""
    experiment = build_experiment(phases=["crash"], repeat=2)
    detected = {1: {"replica": 1, "ttd_ms": 300.0, "ttr_ms": None, "activated_at": 100.2, "detected_at": 100.5}}
    ran = _run("crash", 1, episodes=detected, unmeasured=["restart"]).describe(experiment)
    assert ran.ttr_ms is None and ran.unmeasured is not None and ran.unmeasured[0].missing == "restart"
    said = [text_of(m) for m in ran.missed]
    assert "no recovery (no TTR)" not in said and "fault not detected (no TTD)" not in said
    missed = _run("crash", 1, unmeasured=["restart"]).describe(experiment)
    assert "fault not detected (no TTD)" in [text_of(m) for m in missed.missed]
    not_run = _run("crash", 2, skipped=["down"]).describe(experiment)
    assert not_run.skipped is not None and not_run.skipped[0].missing == "down"
    stats = phase_statistics([ran, not_run], experiment)["crash"]
    assert stats.runs_skipped == 1 and stats.repetitions == 1 and stats.ttd_ms.median == 300.0
    assert stats.unmeasured is not None and stats.unmeasured[0].missing == "restart" and stats.skipped is None
    assert not any("did not recover" in m for m in stats.missed), stats.missed
    blind = _run("latency", 1, unmeasured=["monitor"]).describe(build_experiment(phases=["latency"]))
    assert not any("TTD" in m or "TTR" in m for m in blind.missed), blind.missed
