# Joliba: `make demo` to try it, `make test` to run every test. Only Python 3.11+ is needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Apache Superset's own environment, for its tests (its pins conflict with ours).
SUPERSET_VENV := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/joliba-metadata-template.db

.PHONY: demo test check bench install superset browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(SUPERSET_STAMP): $(STAMP)
	$(BIN)/joliba superset install --venv $(SUPERSET_VENV) --no-setup

superset: $(SUPERSET_STAMP)

# `make demo DEMO_ARGS=--with-superset` also starts Superset with a health-map dashboard.
demo: $(STAMP)
	$(BIN)/joliba demo $(DEMO_ARGS)

# One worker more than there are cores (pytest-xdist; many tests wait on a subprocess or a
# server, so a spare worker keeps the cores busy; idle workers steal queued tests), in a
# random order (pytest-randomly; the seed is printed).
WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
test: $(STAMP) $(SUPERSET_STAMP)
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(SUPERSET_VENV) .pytest_cache .mypy_cache .ruff_cache
