"""Third-party front-end files shipped with the package: Plotly's basic bundle, for the dashboard and report.html.

`plotly/plotly-basic.min.js` is the npm package plotly.js-basic-dist-min (scatter, bar and pie traces, which is all
the charts use) with its licence beside it; `make vendor` copies it again from node_modules after package.json's
pinned version changes.
"""

from __future__ import annotations

from pathlib import Path

PLOTLY_VERSION = "4.1.1"  # the version pinned in package.json
PLOTLY_JS = Path(__file__).parent / "plotly" / "plotly-basic.min.js"
