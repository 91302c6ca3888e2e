"""The fault registry: one entry per kind, and every kind reachable from the CLI, the APIs, the dashboard's form, the
experiment files and the report — a new kind too, from its registration alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.cli import build_parser
from faultlab.cli.faults import _given
from faultlab.core.config import Settings
from faultlab.core.messages import parse
from faultlab.faults.registry import NETWORK, PROCESS, REPLICA, kinds, lookup, of_target
from faultlab.lab.dashboard.operator import kinds_json
from faultlab.lab.experiment_file import STEP_MODELS, Experiment
from faultlab.lab.report_html import chart_data
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
    assert chart_data({})["colours"][kind] == kinds()[kind].colour


@pytest.mark.parametrize("kind", ALL)
def test_every_kind_can_be_a_phases_fault_in_an_experiment_file(kind: str) -> None:
    """Each kind has a step model: its own parameters plus the replicas and timing."""
    assert kind in STEP_MODELS
    fault = {"kind": kind, "replicas": [1], **kinds()[kind].example}  # its typical parameters (netem needs one)
    experiment = parse(Experiment, {"phases": [{"name": "one", "fault": fault}]})
    assert experiment.phases[0].fault.spec is kinds()[kind]


GREMLIN = '''
import json
from typing import Literal
from pydantic import Field
from faultlab.faults.base import Fault, Seeded
from faultlab.faults.registry import REPLICA, KindSpec, register

class GremlinParams(Seeded):
    kind: Literal["gremlin"] = "gremlin"
    mood_ms: float = Field(10.0, ge=1, le=100, description="how grumpy")

class Gremlin(Fault[GremlinParams]):
    kind = "gremlin"

register(KindSpec(GremlinParams, REPLICA, "a test kind", "DELETE /faults", "#123456", Gremlin))

# Nothing below knows the gremlin: each reads the registry.
from faultlab.cli import build_parser
from faultlab.core.config import Settings
from faultlab.faults import parse_fault
from faultlab.lab.experiment_file import Experiment
from faultlab.lab.report_html import chart_data
from faultlab.core.messages import Refused, parse
from faultlab.openapi.inventory import fault_request_schema
from faultlab.lab.dashboard.operator import kinds_json

args = build_parser().parse_args(["inject", "gremlin", "--instance", "1", "--mood-ms", "42"])
try:
    parse(Experiment, {"phases": [{"name": "g", "fault": {"kind": "gremlin", "mood_ms": 500, "replicas": [1]}}]})
    refused = None
except Refused as exc:
    refused = str(exc)
print(json.dumps({
    "cli": [args.kind, args.mood_ms],
    "api": "gremlin" in [v["title"] for v in fault_request_schema()["oneOf"]],
    "replica": parse_fault({"type": "gremlin", "mood_ms": 5}).describe()["params"],
    "form": [k["form"] for k in kinds_json("en")["kinds"] if k["kind"] == "gremlin"],
    "colour": chart_data({})["colours"].get("gremlin"),
    "file": refused,
}))
'''


def test_a_new_kind_is_reachable_everywhere_from_its_registration_alone(tmp_path: Path) -> None:
    """A kind registered by its own code (as a module in faults/ does at discovery) reaches the CLI, the API, the
    replica, the dashboard's form, the report's colours and the experiment files, with nothing else changed."""
    done = subprocess.run([sys.executable, "-c", GREMLIN], check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["cli"] == ["gremlin", 42.0]
    assert seen["api"] is True
    assert seen["replica"] == {"seed": None, "mood_ms": 5.0}
    assert seen["form"] == [["seed", "mood_ms"]]
    assert seen["colour"] == "#123456"
    assert seen["file"] == "phases[0].fault.mood_ms: must be ≤ 100"
