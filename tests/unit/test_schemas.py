"""The JSON Schemas generated from the models: the committed files equal them, and they check what the models check."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def generated() -> dict[Path, dict]:
    spec = importlib.util.spec_from_file_location("schemas", ROOT / "tools" / "schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.generated())


def test_committed_schemas_are_the_models_schemas() -> None:
    """report.schema.json and experiments/experiment.schema.json are what `make schemas` writes from the models."""
    for path, schema in generated().items():
        committed = json.loads(path.read_text())
        assert committed == schema, f"{path.relative_to(ROOT)} differs from its model: run `make schemas`"
        jsonschema.Draft202012Validator.check_schema(committed)


def test_the_experiment_schema_accepts_the_examples_and_refuses_a_bad_fault() -> None:
    """Every shipped experiment validates against experiment.schema.json (editors can use it); a negative latency
    does not."""
    schema = json.loads((ROOT / "experiments" / "experiment.schema.json").read_text())
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    bad = {"phases": [{"name": "x", "fault": {"kind": "latency", "latency_ms": -1, "replicas": [1]}}]}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)


def test_the_report_schema_accepts_recorded_runs() -> None:
    """The recorded runs under tests/data/runs validate against report.schema.json."""
    schema = json.loads((ROOT / "src" / "faultlab" / "lab" / "report.schema.json").read_text())
    runs = sorted((ROOT / "tests" / "data" / "runs").glob("*/report.json"))
    assert len(runs) == 2
    for path in runs:
        jsonschema.validate(json.loads(path.read_text()), schema)
