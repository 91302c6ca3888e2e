"""The fault registry: one entry per kind, and every kind reachable from the CLI, the APIs, the dashboard's form, the
experiment files and the report — a new kind too, from its registration alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from faultlab.cli import build_parser
from faultlab.cli.faults import _given
from faultlab.core.config import Settings
from faultlab.core.messages import parse
from faultlab.faults.registry import NETWORK, PROCESS, REPLICA, kinds, lookup, of_target
from faultlab.lab.dashboard.operator import kinds_json
from faultlab.lab.experiment_file import STEP_MODELS, Experiment
from faultlab.lab.report_html import chart_colours
from faultlab.openapi import inventory as inventory_doc
from faultlab.openapi import supervisor as supervisor_doc
from faultlab.openapi.dashboard import openapi_document as dashboard_doc

ALL = list(kinds())


def test_each_kind_has_one_complete_entry() -> None:
    """Parameters (a model keyed on its kind), target, words, inverse and a colour of its own, for every kind."""
    assert len(ALL) == len(set(ALL)) == 10
    colours = [spec.colour for spec in kinds().values()]
    assert len(set(colours)) == len(colours) and all(c.startswith("#") and len(c) == 7 for c in colours)
    for kind, spec in kinds().items():
        assert spec.kind == kind and spec.params.model_fields["kind"].default == kind
        assert spec.summary and spec.inverse and spec.target in (REPLICA, NETWORK, PROCESS)
        assert (spec.behaviour is None) == (spec.target is PROCESS), kind  # the supervisor's own stop needs none
    assert lookup("incorrect_response").kind == "incorrect" and lookup("delay").kind == "latency"
    assert set(of_target(NETWORK)) == {"partition", "netem"} and set(of_target(PROCESS)) == {"stop"}


@pytest.mark.parametrize("kind", ALL)
def test_every_kind_is_reachable_from_the_cli(kind: str) -> None:
    """`faultlab inject KIND` parses with each of the kind's parameters, which reach the request it sends."""
    spec = kinds()[kind]
    argv = ["inject", kind, "--instance", "2"]
    expected = {}
    for field in spec.fields():
        if field["type"] in ("number", "integer"):
            value = field["minimum"] if field["minimum"] is not None else 1
            value = value + 1 if field["name"] != "seed" else 7
            argv += [f"--{field['name']}", str(value)]
            expected[field["name"]] = value
    args = build_parser().parse_args(argv)
    params, foreign = _given(args, spec)
    assert params == pytest.approx(expected) and foreign == []
    call = spec.target.inject(Settings(), kind, 2, params)
    assert call.method == "POST" and (call.body or {}).get("kind", kind) == kind


@pytest.mark.parametrize("kind", ALL)
def test_every_kind_is_reachable_from_the_apis(kind: str) -> None:
    """A replica kind is a variant of POST /faults, a network kind of the supervisor's POST /netfaults, a process
    kind the supervisor's stop; every kind a variant of the dashboard's POST /api/faults."""
    settings = Settings()
    target = kinds()[kind].target
    if target is REPLICA:
        variants = [v["title"] for v in inventory_doc.fault_request_schema()["oneOf"]]
    elif target is NETWORK:
        doc = supervisor_doc.openapi_document(settings)
        variants = [v["title"] for v in
                    doc["paths"]["/netfaults"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]]
    else:
        doc = supervisor_doc.openapi_document(settings)
        variants = [kind] if "/processes/{name}/stop" in doc["paths"] else []
    assert kind in variants
    dashboard = dashboard_doc(settings)["components"]["schemas"]["FaultRequest"]["oneOf"]
    assert kind in [v["title"] for v in dashboard]


@pytest.mark.parametrize("kind", ALL)
def test_every_kind_is_in_the_dashboards_form_and_the_report(kind: str) -> None:
    """The page is served the kind with its form fields (translated words), and report.html shades it in its colour."""
    for lang in ("en", "es"):
        served = {k["kind"]: k for k in kinds_json(lang)["kinds"]}
        assert kind in served and set(served[kind]["form"]) <= {f["name"] for f in served[kind]["fields"]}
        assert served[kind]["colour"] == kinds()[kind].colour
    assert set(served[kind]["form"]) == {f["name"] for f in kinds()[kind].form_fields()}
    assert kinds_json("es")["kinds"][0]["summary"] == "el proceso de la réplica termina"
    assert chart_colours()[kind] == kinds()[kind].colour


@pytest.mark.parametrize("kind", ALL)
def test_every_kind_can_be_a_phases_fault_in_an_experiment_file(kind: str) -> None:
    """Each kind has a step model: its own parameters plus the replicas and timing."""
    assert kind in STEP_MODELS
    fault = {"kind": kind, "replicas": [1], **kinds()[kind].example}  # its typical parameters (netem needs one)
    experiment = parse(Experiment, {"phases": [{"name": "one", "fault": fault}]})
    assert experiment.phases[0].fault.spec is kinds()[kind]


KIND_MODULE = Path(__file__).resolve().parents[2] / "tests" / "unit" / "blink_kind.py"
# Run in a fresh process: the registry, the experiment file's model and the guide's phases are read once, at import.
PROBE = r'''
import asyncio, json
import tests.unit.blink_kind  # the newcomer's one module
from faultlab.cli import build_parser
from faultlab.core.config import Settings
from faultlab.core.messages import Refused, parse
from faultlab.faults import FaultSet, parse_fault
from faultlab.lab.dashboard.operator import kinds_json
from faultlab.lab.experiment_file import Experiment, experiment_schema
from faultlab.lab.phases import PHASES, guide_experiment
from faultlab.lab.report_html import chart_colours
from faultlab.lab.study.runner import FAULTS, HOLD_FACTOR
from faultlab.openapi.inventory import openapi_document

found = {}
found["schema"] = "blink" in json.dumps(experiment_schema())
found["openapi"] = "blink" in json.dumps(openapi_document(Settings(admin_token="t" * 32), 1))
form = {k["kind"]: k for k in kinds_json("es")["kinds"]}.get("blink")
found["form"] = form and [form["form"], form["summary"], form["example"]]
file = parse(Experiment, {"phases": [{"name": "b", "fault": {"kind": "blink", "every": 3, "replicas": [1]}}]})
found["file"] = file.phases[0].steps[0].fault_params()
found["phase"] = "blink" in PHASES and [p.name for p in guide_experiment().phases][-2:]
found["study"] = [FAULTS.get("blink"), HOLD_FACTOR.get("blink")]
found["cli"] = vars(build_parser().parse_args(["inject", "blink", "--instance", "1", "--every", "4"]))["every"]
found["colour"] = chart_colours().get("blink")
try:
    parse(Experiment, {"phases": [{"name": "b", "fault": {"kind": "blink", "every": 500, "replicas": [1]}}]})
    found["refused"] = None
except Refused as exc:
    found["refused"] = str(exc)
faults = FaultSet()
fault = faults.add(parse_fault({"kind": "blink", "every": 2}))
async def answers():
    return [await hook.on_request(None) is not None for hook in faults.request_hooks() for _ in range(4)]
found["behaviour"] = asyncio.run(answers())
print(json.dumps(found))
'''


def test_a_kind_registered_from_one_module_is_everywhere() -> None:
    """`blink`, written in one module, is in the experiment schema, the replica's OpenAPI document, the dashboard's
    form (its words translated), experiment files, the guide's phases (in its declared order), the detector study
    (with its hold), the CLI's `inject`, report.html's colours and the replica's request hooks, with nothing else
    changed; its messages are extracted for the catalogs like any kind's."""
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=KIND_MODULE.parents[2], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["schema"] and found["openapi"]
    # In the form with its inputs and example; its summary in English until `make catalogs` takes its messages (below).
    assert found["form"] == [["seed", "every"], "refuses one request in every few (HTTP 503)", {"every": 2}]
    assert found["file"] == {"every": 3}
    assert found["phase"] == ["two-down", "blink"]  # its declared order (50) puts it after the guide's kinds
    assert found["study"] == [{"kind": "blink", "every": 2}, 1.0]
    assert found["cli"] == 4 and found["colour"] == "#00ff7f"
    assert found["refused"] == "phases[0].fault.every: must be ≤ 100"
    assert found["behaviour"] == [False, True, False, True]
    messages = {message for _line, message, _comments, _context in
                extract_from_file("python", KIND_MODULE, {"N_": None})}
    assert {"refuses one request in every few (HTTP 503)", "one request in this many is refused"} <= messages
