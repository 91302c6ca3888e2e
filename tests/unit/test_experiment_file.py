"""The experiment file: the shipped examples are valid (guide.yaml is the default experiment exactly), invalid files
are refused whole with every problem's place (its line, its phase as a person counts it), and a run's report.json is
a file that repeats the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.core.messages import Refused
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.experiment_reader import load_experiment
from faultlab.lab.phases import PHASES, build_experiment, guide_experiment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "experiments").glob("*.yaml"))


def problems(tmp_path: Path, text: str, name: str = "bad.yaml", lang: str = "en") -> list[str]:
    """Every problem of an experiment file, as its reader sees it in `lang`."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(Refused) as refused:
        load_experiment(path)
    return [p.text(lang) for p in refused.value.problems]


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


BAD = """
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
  - name: baseline
abort:
  - {metric: success_rate, for_s: 5}
"""


def test_an_invalid_file_is_refused_whole_with_every_place(tmp_path: Path) -> None:
    """Every problem at once, in the order of the file, each at its line, in its phase as a person counts it (a
    name given twice among them, not after them)."""
    assert problems(tmp_path, BAD) == [
        "line 3 · repeat: must be ≥ 1",
        "line 4 · load.rate_rps: must be > 0",
        "line 4 · load.colour: unknown field (known here: duration_s, order_ratio, rate_rps, request_timeout_s, "
        "settle_s, target)",
        "line 7 · phase 2, «Latency!» · name: must match ^[a-z][a-z0-9-]{0,31}$",
        "line 8 · phase 2, «Latency!» · fault.replicas: must have at least 1 item",
        "line 8 · phase 2, «Latency!» · fault.latency_ms: must be ≥ 0",
        ("line 10 · phase 3, «meteor» · fault: unknown kind meteor (known: crash, latency, intermittent, incorrect, "
         "stale, hang, slow-apply, stop, partition, netem)"),
        "line 12 · phase 4, «twice» · fault.replicas: must not name a replica twice",
        "line 12 · phase 4, «twice» · fault.exit_cod: unknown field (known here: exit_code, hold_s, kind, replicas, "
        "seed, start_s)",
        "line 13 · phase 5, «both»: give fault (one) or faults (several), not both",
        "line 16 · phase 6, «baseline» · name: phase 1 has this name too: each phase needs its own",
        "line 18 · abort[0]: give exactly one of below and above",
    ]


def test_every_problem_is_said_in_the_readers_language(tmp_path: Path) -> None:
    """The same file in Spanish: the place (línea, fase) and every sentence, the validators' own included."""
    assert problems(tmp_path, BAD, lang="es") == [
        "línea 3 · repeat: debe ser ≥ 1",
        "línea 4 · load.rate_rps: debe ser > 0",
        "línea 4 · load.colour: campo desconocido (aquí se conocen: duration_s, order_ratio, rate_rps, "
        "request_timeout_s, settle_s, target)",
        "línea 7 · fase 2, «Latency!» · name: debe cumplir ^[a-z][a-z0-9-]{0,31}$",
        "línea 8 · fase 2, «Latency!» · fault.replicas: debe tener al menos 1 elemento",
        "línea 8 · fase 2, «Latency!» · fault.latency_ms: debe ser ≥ 0",
        ("línea 10 · fase 3, «meteor» · fault: tipo desconocido meteor (conocidos: crash, latency, intermittent, "
         "incorrect, stale, hang, slow-apply, stop, partition, netem)"),
        "línea 12 · fase 4, «twice» · fault.replicas: no debe nombrar una réplica dos veces",
        "línea 12 · fase 4, «twice» · fault.exit_cod: campo desconocido (aquí se conocen: exit_code, hold_s, kind, "
        "replicas, seed, start_s)",
        "línea 13 · fase 5, «both»: dé fault (uno) o faults (varios), no ambos",
        "línea 16 · fase 6, «baseline» · name: la fase 1 ya tiene este nombre: cada fase necesita el suyo",
        "línea 18 · abort[0]: dé exactamente uno de below y above",
    ]


def test_a_name_given_twice_is_one_problem_among_the_others(tmp_path: Path) -> None:
    """Names given twice are found whatever else is wrong, each later phase at its own line, counted as a person
    counts; alone, they are the only problem."""
    assert problems(tmp_path, "phases:\n  - name: a\n  - name: b\n  - name: a\n  - name: a\n") == [
        "line 4 · phase 3, «a» · name: phase 1 has this name too: each phase needs its own",
        "line 5 · phase 4, «a» · name: phase 1 has this name too: each phase needs its own",
    ]
    assert problems(tmp_path, "repeat: -1\nphases: [{name: a}, {name: a, hold_s: 0}]\n") == [
        "line 1 · repeat: must be ≥ 1",
        "line 2 · phase 2, «a» · hold_s: must be > 0",
        "line 2 · phase 2, «a» · name: phase 1 has this name too: each phase needs its own",
    ]


def test_a_fault_cannot_start_after_its_phases_hold(tmp_path: Path) -> None:
    """A fault starting at or after its phase's hold (the phase's hold_s, else load.duration_s) is refused at its
    start_s, whatever its kind and whether it has a hold of its own; one starting before the hold is fine."""
    late = problems(tmp_path, """load: {duration_s: 3}
phases:
  - name: late
    faults:
      - {kind: latency, replicas: [1]}
      - {kind: hang, replicas: [2], start_s: 4, hold_s: 2}
  - name: crash-late
    hold_s: 10
    fault: {kind: crash, replicas: [1], start_s: 10}
""")
    assert late == [
        ("line 6 · phase 1, «late» · faults[1].start_s: starts at 4 s, when the phase's hold (3 s) is over: start it "
         "earlier, or give the phase a longer hold_s"),
        ("line 9 · phase 2, «crash-late» · fault.start_s: starts at 10 s, when the phase's hold (10 s) is over: start "
         "it earlier, or give the phase a longer hold_s"),
    ]
    assert problems(tmp_path, "phases:\n  - name: x\n    fault: {kind: stale, replicas: [1], start_s: 5.5}\n",
                    lang="es") == [
        ("línea 3 · fase 1, «x» · fault.start_s: empieza a los 5.5 s, cuando ya terminó el tiempo que la fase mantiene "
         "sus fallos (5 s): adelántelo, o dé a la fase un hold_s mayor")]
    beside = problems(tmp_path, "load: {colour: red}\nphases: [{name: x, fault: {kind: stale, replicas: [1], "
                                "start_s: 7}}]\n")  # another problem in load does not hide the default hold
    assert [p.split(":")[0] for p in beside] == ["line 1 · load.colour", "line 2 · phase 1, «x» · fault.start_s"]
    fine = tmp_path / "fine.yaml"
    fine.write_text("load: {duration_s: 3}\nphases:\n  - name: x\n    faults: [{kind: stale, replicas: [1], "
                    "start_s: 2.5, hold_s: 9}]\n")
    assert load_experiment(fine)[0].phases[0].faults[0].start_s == 2.5


@pytest.mark.parametrize(("text", "expected"), [
    ("phases: [{name: a}\n", "2:1: not YAML: expected ',' or ']', but got '<stream end>'"),
    ("phases: []\nphases: [{name: a}]\n", "2:1: not YAML: key 'phases' given twice"),
    ("- just\n- a list\n", "an experiment file is a mapping (phases:, load:, ...), not a list"),
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
    """--check with no lab running: checked against the lab the settings describe, and says so; exit 0 and a summary
    for a valid file, exit 2 with every problem's place (line, phase) in the reader's language for an invalid one —
    a replica the settings' lab lacks among them; nothing started."""
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "FAULTLAB_HOME": str(tmp_path)}
    ok = subprocess.run([sys.executable, "-m", "faultlab", "experiment", "--file", str(ROOT / "experiments" /
                                                                                   "two-down.yaml"), "--check"],
                        check=False, capture_output=True, text=True, timeout=60, env=env)
    said = " ".join(ok.stdout.split())  # the console wraps long lines
    assert ok.returncode == 0 and "a valid experiment — 4 phases × 2 repetitions" in said, ok.stdout + ok.stderr
    assert "no lab running: checked against the lab the settings describe" in said
    assert "replicas 1, 2, 3; products PROD-001, PROD-002, PROD-003; no network namespaces" in said
    bad = tmp_path / "bad.yaml"
    bad.write_text("phases:\n  - name: x\n    fault: {kind: latency, latency_ms: -1, replicas: [9]}\n"
                   "  - name: y\n    fault: {kind: crash, replicas: [4]}\n")
    refused = subprocess.run([sys.executable, "-m", "faultlab", "--lang", "es", "experiment", "--file", str(bad)],
                             check=False, capture_output=True, text=True, timeout=60, env=env)
    said = " ".join(refused.stdout.split())
    assert refused.returncode == 2
    assert "no hay laboratorio en marcha: revisado frente al laboratorio que describe la configuración" in said
    assert "no es un experimento válido" in said
    assert "línea 3 · fase 1, «x» · fault.latency_ms: debe ser ≥ 0" in said
    assert ("línea 5 · fase 2, «y» · fault.replicas[0]: el laboratorio no tiene la réplica 4 (sus réplicas: 1, 2, 3)"
            in said)  # phase x is not valid on its own: its replica 9 is not checked against the lab
    assert "réplica 9" not in said
    assert not (tmp_path / "lab.json").exists() and not (tmp_path / "runs").exists()  # nothing was started
