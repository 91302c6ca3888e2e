"""`python -m faultlab` is the CLI."""

from faultlab.cli import main

raise SystemExit(main())
