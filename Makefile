# IIZ case-coordination event bus — developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
# uv from PATH if present, else as a module of the Python that `make setup` installs it into.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
PYTEST_ARGS ?=
FAULTS_ARGS ?=
LOAD_ARGS ?=

.PHONY: help
help: ## Show the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install uv, the locked Python dependencies and the AsyncAPI validator
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet
	@if [ -f tools/asyncapi/package-lock.json ] && [ ! -d tools/asyncapi/node_modules ]; then \
		npm ci --silent --no-audit --no-fund --prefix tools/asyncapi; fi

.PHONY: browser
browser: ## Install headless Chromium and ChromeDriver (Debian packages) for the browser tests
	@infra/browser

.PHONY: demo
demo: setup infra-up ## README command 1: infra, migrations, services, the simulation, a summary
	@$(RUN) python -m simulator.demo

.PHONY: demo-year
demo-year: setup infra-up ## The demo over a calendar year at BL volume (last full year; IIZ_DEMO_YEAR=YYYY)
	@IIZ_DEMO_YEAR=$${IIZ_DEMO_YEAR:-1} $(RUN) python -m simulator.demo

.PHONY: test
test: setup browser ## README command 2: the whole suite (unit, integration, e2e) on real Kafka and PostgreSQL
	@$(RUN) pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: setup ## Only the fast unit tests (no infrastructure)
	@$(RUN) pytest -m unit $(PYTEST_ARGS)

.PHONY: lint
lint: setup ## ruff lint and format check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

.PHONY: fmt
fmt: setup ## Format and auto-fix
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

.PHONY: typecheck
typecheck: setup ## mypy strict on schemas/, services/ and simulator/
	@$(RUN) mypy

.PHONY: generate
generate: setup ## Regenerate the JSON Schemas and the AsyncAPI document
	@$(RUN) python -m schemas.generate

.PHONY: check
check: lint typecheck test ## Everything CI runs

.PHONY: infra-up
infra-up: setup ## Start Kafka, PostgreSQL and Keycloak locally (no Docker needed)
	@infra/local up

.PHONY: infra-down
infra-down: ## Stop the local infrastructure (and the services the demo left running)
	@for f in "$${IIZ_INFRA_HOME:-.infra}"/demo-*.pid; do [ -f "$$f" ] && kill "$$(cat $$f)" 2>/dev/null; rm -f "$$f"; done; true
	@infra/local down

.PHONY: infra-status
infra-status: ## Show what runs, where, and the log files
	@infra/local status

.PHONY: bench
bench: setup infra-up ## Throughput and memory benchmarks (results in docs/benchmarks.md)
	@$(RUN) python -m tests.bench

PROFILE ?= coordination
.PHONY: profile
profile: setup infra-up ## py-spy samples of one bench stage (PROFILE=intake|coordination|notifications) as collapsed stacks
	@mkdir -p test-artifacts
	@IIZ_BENCH=$(PROFILE) $(RUN) py-spy record --idle --rate 250 --format raw \
		--output test-artifacts/profile-$(PROFILE).txt -- python -m tests.bench
	@echo "speedscope.app opens test-artifacts/profile-$(PROFILE).txt (collapsed stacks)"

.PHONY: load
load: setup infra-up ## Open-loop load at fixed rates, all services as processes: e2e latency and lag (LOAD_ARGS)
	@$(RUN) python -m simulator.load $(LOAD_ARGS)

.PHONY: faults
faults: setup ## Fault suite: real services, own Kafka+PostgreSQL, every fault (FAULTS_ARGS=--cluster: 3 brokers)
	@$(RUN) python -m tests.faults $(FAULTS_ARGS)

.PHONY: faults-short
faults-short: setup ## The CI subset of the fault suite: coordination kill, PostgreSQL stop, broker kill (with poison)
	@$(RUN) python -m tests.faults --short $(FAULTS_ARGS)
