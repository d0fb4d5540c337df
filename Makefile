# Two commands on a fresh machine: `make run` (install + serve on embedded defaults) and `make test`.
# Everything installs into .venv from the hash-pinned requirements.lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

.PHONY: install run test lint typecheck unit integration contract performance live lock clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: requirements.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --compile-bytecode -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	# Bytecode for our own modules too (as an installed package has): with PYTHONDONTWRITEBYTECODE set, every start
	# would otherwise compile ~100 of them (~80 ms).
	$(BIN)/python -m compileall -q src
	touch $@

install: $(VENV)/.installed

# Starts the service on embedded defaults: SQLite, in-process queue and worker, events to a JSONL file, mock LLM.
run: install
	$(BIN)/llm-provider serve

lint: install
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy tests
	$(BIN)/mypy --strict scripts  # benchmark scripts import the toolkit: a moved module must fail CI, not a user

# The whole suite: lint, types, then every test tier against private Redis, PostgreSQL and Apache Kafka
# (LLM_PROVIDER_TEST_KAFKA_BROKER=tansu for the fast, memory-only Tansu). `infra fetch` is a no-op once cached.
test: lint typecheck
	bash scripts/ensure-system-deps.sh
	$(BIN)/llm-provider infra fetch
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit tests/api

integration: install
	bash scripts/ensure-system-deps.sh
	$(BIN)/llm-provider infra fetch
	$(BIN)/pytest -m integration

contract: install
	$(BIN)/pytest -m contract

performance: install
	bash scripts/ensure-system-deps.sh
	$(BIN)/llm-provider infra fetch
	$(BIN)/pytest -m performance

live: install
	$(BIN)/pytest -m live -rs tests/live

# Re-pin after changing dependencies in pyproject.toml.
lock: | $(UV)
	$(UV) pip compile pyproject.toml --group dev --all-extras --generate-hashes --python-version 3.11 -q -o requirements.lock
	# The runtime image's set: the same pins, without the dev group (no test, lint or load tools in production).
	$(UV) pip compile pyproject.toml --all-extras --generate-hashes --python-version 3.11 -q \
		--constraint requirements.lock -o requirements-runtime.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .llm-provider
