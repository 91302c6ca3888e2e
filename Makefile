# Two commands do all the set-up on a fresh machine: `make experiment` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# npm packages (eslint, and the source of the vendored Plotly bundle) as package-lock.json pins them
NODE_STAMP := node_modules/.installed-$(shell sha1sum package-lock.json | cut -c1-12)

.PHONY: install experiment test test-js guide-example up down status bench bench-paired lint lint-py lint-types lint-imports lint-js vendor catalogs schemas clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

install: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)  # e2e tests; never `playwright install`
	@command -v node >/dev/null || (apt-get update && apt-get install -y nodejs)  # the JavaScript unit tests

experiment: install  ## the lab's main job: the guide's experiment (experiments/guide.yaml), dashboard up while it runs
	$(BIN)/faultlab experiment --file experiments/guide.yaml

test: install test-js guide-example  ## the whole test suite: the JavaScript's unit tests, then pytest against the real broker and PostgreSQL
	$(BIN)/python -m pytest -q

test-js:  ## the dashboard's and report's JavaScript, unit-tested by node's own runner (no npm package needed)
	node --test --test-reporter=spec tests/js/

guide-example:  ## the virtual environment of examples/guide-system (a student's system, not part of faultlab), which tests/integration/test_guide_example.py starts
	examples/guide-system/run.sh install

up: install
	$(BIN)/faultlab up

down: install
	$(BIN)/faultlab down

status: install
	$(BIN)/faultlab status

bench: install  ## benchmark figures for the README (run on an otherwise idle machine)
	@command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)) || echo "wrk not installed: saturating with the Python client"
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/ttd_ttr.py

REF_A ?= v0.1.0
REF_B ?= HEAD
ROUNDS ?= 3
bench-paired: install  ## speed as a ratio: REF_A and REF_B side by side, ROUNDS rounds with a calibration (docs/benchmarks.md)
	@command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)) || (echo "wrk is needed: apt-get install -y wrk" && false)
	$(BIN)/python benchmarks/paired.py $(REF_A) $(REF_B) -n $(ROUNDS) --json .bench/paired-latest.json

lint: lint-py lint-types lint-imports lint-js  ## every checker; each one is its own target, listed here

lint-py: install  ## ruff on the Python (rules in pyproject.toml [tool.ruff.lint])
	$(BIN)/ruff check src tests benchmarks tools examples

lint-types: install  ## mypy on src/ (pyproject.toml [tool.mypy])
	$(BIN)/mypy

lint-imports: install  ## the layers and import contracts of docs/architecture.md (pyproject.toml [tool.importlinter])
	$(BIN)/lint-imports

lint-js: $(NODE_STAMP)  ## eslint on the JavaScript (eslint.config.js)
	npx --no-install eslint

vendor: $(NODE_STAMP)  ## copy Plotly's basic bundle into the package again after package.json's pin changes
	cp node_modules/plotly.js-basic-dist-min/plotly-basic.min.js node_modules/plotly.js-basic-dist-min/LICENSE \
		src/faultlab/vendor/plotly/
	@echo "now set PLOTLY_VERSION in src/faultlab/vendor/__init__.py to the version package.json pins"

catalogs: install  ## Spanish and English: extract the messages, update src/faultlab/locale/*/LC_MESSAGES/faultlab.po, compile the .mo files (Babel); exit 1 while a Spanish message is untranslated
	$(BIN)/python tools/catalogs.py

schemas: install  ## write the JSON Schemas generated from the models: report.schema.json, experiments/experiment.schema.json
	$(BIN)/python tools/schemas.py

clean:
	rm -rf $(VENV) .faultlab runs node_modules
