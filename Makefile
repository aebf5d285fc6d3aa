# The command catalogue (DESIGN.md section 9). Every target sets itself up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Material for MkDocs prints a notice about its successor on every build: not a warning of ours.
export NO_MKDOCS_2_WARNING := 1
# Never reach real AWS from a local command: dummy credentials and a region.
TEST_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1

.PHONY: setup test test-fast lint format docs docs-gen docs-serve demo local synth bootstrap deploy bench clean

$(STAMP): requirements.txt requirements-dev.txt $(wildcard package-lock.json)
	@echo "setup: creating $(VENV) and installing the pinned Python packages (first time: 1-3 minutes)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@if [ -f package-lock.json ]; then echo "setup: installing the CDK CLI (npm ci)"; \
		npm ci --no-audit --no-fund --loglevel=error; fi
	@touch $@
	@echo "setup: done"

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint docs
	$(TEST_ENV) $(VENV)/bin/pytest -n 2

# The unit suite alone (no synth, no emulator, no socket): seconds.
test-fast: setup
	$(TEST_ENV) $(VENV)/bin/pytest -n 2 -q tests/unit

# The docs site (docs/, mkdocs.yml): fails on a stale generated page or a broken link.
docs: setup
	$(TEST_ENV) $(PY) docs/gen.py --check
	$(VENV)/bin/mkdocs build --strict --quiet

# Regenerate the pages written from the code: the CLI reference, configuration, alarms.
docs-gen: setup
	$(TEST_ENV) $(PY) docs/gen.py

docs-serve: setup
	$(VENV)/bin/mkdocs serve

demo: setup
	@if [ -d bulkmail/local ]; then $(TEST_ENV) $(PY) -m bulkmail demo; \
	else echo "make demo: the local run is not built yet (issue 5)"; exit 2; fi

local: setup
	$(PY) -m bulkmail local

synth: setup
	npx cdk synth --quiet $(ARGS)

# Once per account and Region (cdk.json runs the app with .venv/bin/python: set up first).
bootstrap: setup
	npx cdk bootstrap

deploy: setup
	BULKMAIL_DEPLOY=1 npx cdk deploy $(ARGS)

bench: setup
	@if [ -f bench/run.py ]; then $(TEST_ENV) $(PY) bench/run.py; \
	else echo "make bench: the benchmarks are not built yet (issue 7)"; exit 2; fi

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .ruff_cache .mypy_cache site
