# Two commands on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup train test bench lint typecheck clean

setup: $(STAMP)

# Reinstall only when the project's metadata changes.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: setup
	$(BIN)/python train.py $(ARGS)

# Tests run in parallel, one worker per core (at most 4): most of them wait on real
# `python train.py` processes. `make test ARGS="-n 0"` runs them in one process.
test: setup
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist worksteal $(ARGS)

bench: setup
	$(BIN)/python -m benchmarks.run_all $(ARGS)

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pre-commit run --all-files

typecheck: setup
	$(BIN)/mypy

# What runs and tools write: run and sweep folders, the MLflow store and its artifacts, caches.
# Not data/ (data sets you downloaded) and not .venv.
GENERATED = outputs multirun mlruns mlartifacts $(wildcard mlflow.db*) .pytest_cache .ruff_cache .mypy_cache

clean:
	@for path in $(GENERATED); do \
		if [ -e "$$path" ]; then rm -rf "$$path" && echo "removed $$path"; fi; \
	done
