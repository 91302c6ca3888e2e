"""An experiment checked against the lab it runs on, on literal files and literal lab facts: each mistake (a replica,
a product or a node the lab lacks, a network fault without namespaces, a quorum loss too few replicas can cause, a
steady state the lab cannot hold) refused at its line and phase, in English and Spanish, every problem at once."""

from __future__ import annotations

from pathlib import Path

from faultlab.core.config import Settings
from faultlab.lab.experiment_check import LabFacts, check_experiment, lab_problems
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.phases import build_experiment, guide_experiment

THREE = LabFacts((1, 2, 3), ("PROD-001", "PROD-002", "PROD-003"), netns=False,
                 nodes=("inventory-1", "inventory-2", "inventory-3", "orders", "monitor", "voter", "dashboard", "host"))

MISTAKES = """# every mistake a file can make about the lab it runs on
load: {duration_s: 5}
steady_state:
  probes: [{probe: replicas_on, min_on: 4}]
phases:
  - name: baseline
  - name: crash
    fault: {kind: crash, replicas: [4]}
  - name: wrong
    fault: {kind: incorrect, product_id: PROD-009, replicas: [1]}
  - name: cut
    fault: {kind: partition, replicas: [1], groups: [[inventory-1], [inventory-4, voter]]}
  - name: one-down
    fault: {kind: stop, replicas: [1]}
    expect_quorum_loss: true
"""


def check(tmp_path: Path, text: str, facts: LabFacts = THREE, lang: str = "en", **options: object) -> list[str]:
    """Every problem `faultlab experiment --file` finds in this file on the lab `facts` describe, as said in `lang`."""
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    _experiment, _source, found = check_experiment(path, lambda base: build_experiment(base, **options), facts)
    return [p.text(lang) for p in found]


def test_each_mistake_about_the_lab_is_refused_at_its_line_and_phase(tmp_path: Path) -> None:
    """A replica, a product and a partition node the lab lacks, a network fault on a lab without namespaces, a quorum
    loss expected from one replica of three, four replicas ON required of three: all at once, in the file's order."""
    assert check(tmp_path, MISTAKES) == [
        "line 4 · steady_state.probes[0].min_on: the lab has 3 replicas: 4 ON can never hold",
        "line 8 · phase 2, «crash» · fault.replicas[0]: the lab has no replica 4 (its replicas: 1, 2, 3)",
        ("line 10 · phase 3, «wrong» · fault.product_id: the lab has no product PROD-009 (its products: PROD-001, "
         "PROD-002, PROD-003)"),
        ("line 12 · phase 4, «cut» · fault.kind: a partition fault needs a lab where each service has its own network "
         "namespace, and this one has none: start it with `sudo faultlab up --netns` (or `sudo faultlab experiment "
         "--netns` with no lab running)"),
        ("line 12 · phase 4, «cut» · fault.groups[1][0]: the lab has no node inventory-4 (its nodes: inventory-1, "
         "inventory-2, inventory-3, orders, monitor, voter, dashboard, host)"),
        ("line 15 · phase 5, «one-down» · expect_quorum_loss: with 1 of its 3 replicas faulty the voter keeps its "
         "quorum: losing it takes 2"),
    ]


def test_each_mistake_is_said_in_spanish(tmp_path: Path) -> None:
    """The same file, read in Spanish: línea, fase, and every sentence."""
    assert check(tmp_path, MISTAKES, lang="es") == [
        "línea 4 · steady_state.probes[0].min_on: el laboratorio tiene 3 réplicas: 4 en ON nunca se cumple",
        "línea 8 · fase 2, «crash» · fault.replicas[0]: el laboratorio no tiene la réplica 4 (sus réplicas: 1, 2, 3)",
        ("línea 10 · fase 3, «wrong» · fault.product_id: el laboratorio no tiene el producto PROD-009 (sus productos: "
         "PROD-001, PROD-002, PROD-003)"),
        ("línea 12 · fase 4, «cut» · fault.kind: un fallo partition necesita un laboratorio donde cada servicio tenga "
         "su propio espacio de nombres de red, y este no los tiene: inícielo con `sudo faultlab up --netns` (o `sudo "
         "faultlab experiment --netns` sin laboratorio en marcha)"),
        ("línea 12 · fase 4, «cut» · fault.groups[1][0]: el laboratorio no tiene el nodo inventory-4 (sus nodos: "
         "inventory-1, inventory-2, inventory-3, orders, monitor, voter, dashboard, host)"),
        ("línea 15 · fase 5, «one-down» · expect_quorum_loss: con 1 de sus 3 réplicas en fallo el votador conserva el "
         "quórum: perderlo requiere 2"),
    ]


def test_the_same_file_fits_a_lab_that_has_what_it_names(tmp_path: Path) -> None:
    """Five replicas, the product, namespaces: only the quorum loss is still wrong (three of five are needed now)."""
    five = LabFacts((1, 2, 3, 4, 5), ("PROD-001", "PROD-009"), netns=True,
                    nodes=(*(f"inventory-{r}" for r in range(1, 6)), "voter"))
    assert check(tmp_path, MISTAKES, five) == [
        ("line 15 · phase 5, «one-down» · expect_quorum_loss: with 1 of its 5 replicas faulty the voter keeps its "
         "quorum: losing it takes 3"),
    ]
    unknown_products = LabFacts((1, 2, 3), None, netns=True, nodes=THREE.nodes)  # a system that does not say
    assert not any("product" in line for line in check(tmp_path, MISTAKES, unknown_products))


def test_an_invalid_file_is_checked_against_the_lab_too(tmp_path: Path) -> None:
    """The file's own problems and the lab's come together, in the file's order: the phases valid on their own are
    checked against the lab (a name given twice among the problems)."""
    text = ("repeat: 0\nphases:\n  - name: a\n    fault: {kind: latency, latency_ms: -1, replicas: [9]}\n"
            "  - name: b\n    fault: {kind: hang, replicas: [5]}\n  - name: b\n")
    assert check(tmp_path, text) == [
        "line 1 · repeat: must be ≥ 1",
        "line 4 · phase 1, «a» · fault.latency_ms: must be ≥ 0",
        "line 6 · phase 2, «b» · fault.replicas[0]: the lab has no replica 5 (its replicas: 1, 2, 3)",
        "line 7 · phase 3, «b» · name: phase 2 has this name too: each phase needs its own",
    ]


def test_phases_picked_on_the_command_line_keep_the_files_numbers_and_lines(tmp_path: Path) -> None:
    """--phases one-down,crash runs the file's fifth and second phases: each problem still names its phase as the
    file counts it, at its line; a problem an option causes (--duration 1 makes a start late) has the phase's line,
    but --repeat 0 gets no line (the file's repeat: is not what is wrong)."""
    assert check(tmp_path, MISTAKES, phases="one-down,crash") == [
        "line 4 · steady_state.probes[0].min_on: the lab has 3 replicas: 4 ON can never hold",
        "line 8 · phase 2, «crash» · fault.replicas[0]: the lab has no replica 4 (its replicas: 1, 2, 3)",
        ("line 15 · phase 5, «one-down» · expect_quorum_loss: with 1 of its 3 replicas faulty the voter keeps its "
         "quorum: losing it takes 2"),
    ]
    text = "repeat: 3\nphases:\n  - name: a\n  - name: b\n    fault: {kind: hang, replicas: [1], start_s: 2}\n"
    assert check(tmp_path, text, phases="b", repeat=0, duration_s=1) == [
        "repeat: must be ≥ 1",
        ("line 5 · phase 2, «b» · fault.start_s: starts at 2 s, when the phase's hold (1 s) is over: start it earlier, "
         "or give the phase a longer hold_s"),
    ]


def test_the_guides_experiment_on_a_smaller_lab_names_its_phases(tmp_path: Path) -> None:
    """No file: the guide's phases are counted as the experiment lists them, without lines; on a two-replica lab its
    replica-3 phases and the two-down phase (two of two down is fine: a quorum loss) are what is wrong."""
    two = LabFacts((1, 2), ("PROD-001", "PROD-002", "PROD-003"), netns=False)
    _experiment, _source, found = check_experiment(None, build_experiment, two)
    assert [p.text() for p in found] == [
        "phase 4, «intermittent» · fault.replicas[0]: the lab has no replica 3 (its replicas: 1, 2)",
        "phase 7, «hang» · fault.replicas[0]: the lab has no replica 3 (its replicas: 1, 2)",
    ]
    assert lab_problems(guide_experiment(), THREE) == []


def test_lab_facts_come_from_the_supervisors_answers_or_the_settings(tmp_path: Path) -> None:
    """The running lab: replica ids from /processes, namespaces from /netfaults, products from its settings; a lab
    not started: the settings' replicas and products, namespaces as asked."""
    settings = Settings(home=tmp_path, replicas=2, initial_stock={"PROD-007": 5})
    processes = {"processes": [{"name": "monitor", "replica": None}, {"name": "inventory-2", "replica": 2},
                               {"name": "inventory-1", "replica": 1}, {"name": "inventory-5", "replica": 5}]}
    running = LabFacts.of_answers(processes, {"netns": True, "faults": []}, settings)
    assert (running.replica_ids, running.product_ids, running.netns) == ((1, 2, 5), ("PROD-007",), True)
    assert running.nodes[:3] == ("inventory-1", "inventory-2", "inventory-5") and "host" in running.nodes
    assert not LabFacts.of_answers(processes, None, settings).netns
    planned = LabFacts.of_settings(settings, netns=False)
    assert (planned.replica_ids, planned.product_ids, planned.netns) == ((1, 2), ("PROD-007",), False)
    assert planned.describe()["replica_ids"] == (1, 2)


def test_the_shipped_examples_fit_the_lab_they_are_for() -> None:
    """Every shipped example fits the default lab, but the namespace one, which only lacks the namespaces there and
    fits a namespace lab."""
    root = Path(__file__).resolve().parents[2] / "experiments"
    namespaces = LabFacts(THREE.replica_ids, THREE.product_ids, netns=True, nodes=THREE.nodes)
    for path in sorted(root.glob("*.yaml")):
        experiment, _source, found = check_experiment(path, lambda base: base, THREE)
        assert isinstance(experiment, Experiment)
        if experiment.needs_netns:
            assert found and all("own network namespace" in p.text() for p in found), path.name
            assert lab_problems(experiment, namespaces) == []
        else:
            assert found == [], (path.name, [p.text() for p in found])
