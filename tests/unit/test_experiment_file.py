"""The experiment file: the shipped examples are valid (guide.yaml is the default experiment exactly), invalid files
are refused whole with every problem's place, and a run's report.json is a file that repeats the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.core.messages import Refused
from faultlab.lab.experiment_file import Experiment, load_experiment
from faultlab.lab.phases import PHASES, build_experiment, guide_experiment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "experiments").glob("*.yaml"))


def problems(tmp_path: Path, text: str, name: str = "bad.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(Refused) as refused:
        load_experiment(path)
    return [p.text() for p in refused.value.problems]


def test_the_shipped_guide_file_is_the_default_experiment_exactly() -> None:
    """experiments/guide.yaml has the built-in experiment's phases, parameters, thresholds, load and seeds."""
    experiment, source = load_experiment(ROOT / "experiments" / "guide.yaml")
    assert experiment == guide_experiment()
    assert [p.name for p in experiment.phases] == ["baseline", "crash", "latency", "intermittent", "incorrect",
                                                   "stale", "hang", "two-down"]
    assert source.path.endswith("guide.yaml") and len(source.sha256) == 64


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_shipped_example_is_valid_and_teaches_in_comments(path: Path) -> None:
    """Each file in experiments/ validates, and opens with comments that say what it shows and how to run it."""
    experiment, _source = load_experiment(path)
    assert experiment.phases
    head = path.read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in head) and f"--file experiments/{path.name}" in path.read_text()


def test_the_examples_use_what_the_format_offers() -> None:
    """Between them the examples stagger faults, hold them apart, set lab settings, phase thresholds and aborts."""
    loaded = {p.stem: load_experiment(p)[0] for p in EXAMPLES}
    assert {"guide", "two-down", "stale-and-hang", "detector-settings", "partition"} <= set(loaded)
    staggered = loaded["two-down"].phases[-1]
    assert [(s.start_s, s.hold_s) for s in staggered.faults] == [(0.0, 6.0), (2.0, 3.0)]
    assert loaded["detector-settings"].lab_settings.detector == "error-rate"
    assert loaded["stale-and-hang"].phases[3].thresholds.max_ttd_ms == 3000
    assert any(p.fault is not None and p.fault.kind == "slow-apply" for p in loaded["stale-and-hang"].phases)
    assert loaded["partition"].needs_netns and not loaded["guide"].needs_netns
    assert all(e.abort for name, e in loaded.items() if name in ("two-down", "stale-and-hang", "partition"))


def test_an_invalid_file_is_refused_whole_with_every_place(tmp_path: Path) -> None:
    """Every problem at once, each at its place in the file."""
    found = problems(tmp_path, """
version: 1
repeat: 0
load: {rate_rps: -5, colour: blue}
phases:
  - name: baseline
  - name: Latency!
    fault: {kind: latency, latency_ms: -1, replicas: []}
  - name: meteor
    fault: {kind: meteor, replicas: [1]}
  - name: twice
    fault: {kind: crash, replicas: [2, 2], exit_cod: 3}
  - name: both
    fault: {kind: hang, replicas: [1]}
    faults: [{kind: stale, replicas: [2]}]
abort:
  - {metric: success_rate, for_s: 5}
""")
    assert found == [
        "repeat: must be ≥ 1",
        "load.rate_rps: must be > 0",
        ("load.colour: unknown field (known here: duration_s, order_ratio, rate_rps, request_timeout_s, settle_s, "
         "target)"),
        "abort[0]: give exactly one of below and above",
        "phases[1].name: must match ^[a-z][a-z0-9-]{0,31}$",
        "phases[1].fault.replicas: must have at least 1 item(s)",
        "phases[1].fault.latency_ms: must be ≥ 0",
        ("phases[2].fault: unknown kind meteor (known: crash, latency, intermittent, incorrect, stale, hang, slow-apply, "
         "stop, partition, netem)"),
        "phases[3].fault.replicas: must not name a replica twice",
        "phases[3].fault.exit_cod: unknown field (known here: exit_code, hold_s, kind, replicas, seed, start_s)",
        "phases[4]: give fault (one) or faults (several), not both",
    ]


def test_coherence_checks_name_the_phase(tmp_path: Path) -> None:
    """Phase names are unique, and a fault cannot start after its phase's hold without its own hold."""
    assert problems(tmp_path, "phases: [{name: a}, {name: a}]") == [
        "phase names must be unique: a more than once"]
    late = problems(tmp_path, "load: {duration_s: 3}\nphases:\n  - name: late\n"
                              "    faults: [{kind: latency, replicas: [1], start_s: 4}]\n")
    assert late == [("phase late: a latency fault starts at 4 s, when the phase's hold (3 s) is over: give it hold_s, "
                     "or a longer phase hold_s")]


@pytest.mark.parametrize(("text", "expected"), [
    ("phases: [{name: a}\n", "2:1: not YAML: expected ',' or ']', but got '<stream end>'"),
    ("phases: []\nphases: [{name: a}]\n", "2:1: not YAML: key 'phases' given twice"),
    ("- just\n- a list\n", "an experiment file is a mapping (phases:, load:, ...), not list"),
    ("seed: 1\n", "phases: is required"),
])
def test_files_that_are_not_experiments_say_why(tmp_path: Path, text: str, expected: str) -> None:
    """Syntax errors and duplicate keys at line:column, a list instead of a mapping, a missing section."""
    assert problems(tmp_path, text) == [expected]


def test_json_works_as_well_as_yaml(tmp_path: Path) -> None:
    """The same experiment as JSON loads to the same model; a JSON syntax error says line:column."""
    path = tmp_path / "guide.json"
    path.write_text(json.dumps(guide_experiment().as_run()))
    assert load_experiment(path)[0] == guide_experiment()
    assert problems(tmp_path, '{"phases": [', "broken.json")[0].startswith("1:13: not JSON: ")


def test_a_runs_report_is_the_experiment_it_ran(tmp_path: Path) -> None:
    """report.json embeds the experiment as run; loading it gives that experiment back (same seeds), and a report
    from before experiments were embedded says so."""
    ran = build_experiment(phases="baseline,latency", repeat=2, seed=42, rate=30)
    report = {"experiment_info": {"run_id": "r1", "experiment": ran.as_run()}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    again, source = load_experiment(path)
    assert again == ran and again.seed == 42 and source.from_report == "r1"
    path.write_text(json.dumps({"experiment_info": {"run_id": "old"}}))
    with pytest.raises(Refused, match="embeds no experiment"):
        load_experiment(path)


def test_command_line_options_build_the_same_model() -> None:
    """--phases, --repeat, --rate and thresholds change the guide's experiment or a file's, validated the same way."""
    built = build_experiment(phases="latency,two-down", repeat=1, rate=30, duration_s=1.5, settle_s=0.5, seed=3,
                             thresholds={"max_p95_ms": 5000, "max_ttd_ms": None})
    assert [p.name for p in built.phases] == ["latency", "two-down"] and built.phases[1] == PHASES["two-down"]
    assert (built.repeat, built.load.rate_rps, built.load.duration_s, built.seed) == (1, 30.0, 1.5, 3)
    assert built.thresholds.max_p95_ms == 5000 and built.thresholds.max_ttd_ms == 2000
    file = build_experiment(phases="one-down", base=Experiment(phases=[{"name": "baseline"}, {  # type: ignore[list-item]
        "name": "one-down", "fault": {"kind": "stop", "replicas": [1]}}]))
    assert [p.name for p in file.phases] == ["one-down"]
    with pytest.raises(ValueError, match="unknown phase"):
        build_experiment(phases="crash,meteor")
    with pytest.raises(Refused, match="repeat: must be ≥ 1"):
        build_experiment(repeat=0)
    assert [p.name for p in build_experiment(netns=True).phases][-1] == "partition"


def test_faultlab_experiment_check_validates_without_starting_anything(tmp_path: Path) -> None:
    """--check: exit 0 and a summary for a valid file, exit 2 with every problem's place for an invalid one."""
    ok = subprocess.run([sys.executable, "-m", "faultlab", "experiment", "--file", str(ROOT / "experiments" /
                                                                                   "two-down.yaml"), "--check"],
                        check=False, capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                                                         "FAULTLAB_HOME": str(tmp_path)})
    assert ok.returncode == 0 and "a valid experiment — 4 phases × 2 repetitions" in ok.stdout, ok.stdout + ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("phases:\n  - name: x\n    fault: {kind: latency, latency_ms: -1, replicas: [9]}\n")
    refused = subprocess.run([sys.executable, "-m", "faultlab", "--lang", "es", "experiment", "--file", str(bad)],
                             check=False, capture_output=True, text=True, timeout=60,
                             env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "FAULTLAB_HOME": str(tmp_path)})
    assert refused.returncode == 2
    assert "no es un experimento válido" in refused.stdout
    assert "phases[0].fault.latency_ms: debe ser ≥ 0" in refused.stdout
    assert "phases[0].fault.replicas[0]: debe ser ≤ 9" not in refused.stdout  # 9 is a valid replica number
    assert not (tmp_path / "lab.json").exists()  # no lab was started
