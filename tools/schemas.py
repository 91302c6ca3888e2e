"""`make schemas`: write the JSON Schemas that are generated from the models (report.json's, the experiment file's,
the episode timeline's).

src/faultlab/lab/report.schema.json is `lab/report_model.Report`'s schema, experiments/experiment.schema.json is
`lab/experiment_file.Experiment`'s and src/faultlab/lab/timeline.schema.json is `lab/timeline_model.Timeline`'s;
tests/unit/test_schemas.py fails while a committed file differs from its model.
The OpenAPI documents' components are generated at run time (GET /openapi.json), not written here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def generated() -> dict[Path, dict[str, Any]]:
    """Each generated file and the schema it must hold."""
    from faultlab.lab.experiment_file import experiment_schema
    from faultlab.lab.report_model import report_schema
    from faultlab.lab.timeline_model import timeline_schema

    return {ROOT / "src" / "faultlab" / "lab" / "report.schema.json": report_schema(),
            ROOT / "experiments" / "experiment.schema.json": experiment_schema(),
            ROOT / "src" / "faultlab" / "lab" / "timeline.schema.json": timeline_schema()}


def text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for path, schema in generated().items():
        path.write_text(text(schema), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
