# Two commands on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions to install: `make LOCK= ...` installs the newest releases pyproject.toml allows.
LOCK ?= requirements.lock
CONSTRAINTS := $(if $(LOCK),-c $(LOCK))

.PHONY: setup train test test-fast test-bench bench lint typecheck lock floor clean screenshots services

setup: $(STAMP)

# Reinstall only when the project's metadata or the lock changes.
$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,export,launchers,ray,postgres]" $(CONSTRAINTS)
	touch $(STAMP)

train: setup
	$(BIN)/python train.py $(ARGS)

# Tests run in parallel, one worker per core (at most 4): most of them wait on real
# `python train.py` processes. `make test ARGS="-n 0"` runs them in one process.
# Every test of the template; the benchmarks' smoke runs are their own tier (test-bench).
test: setup
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist worksteal -m "not bench" $(ARGS)

# Each benchmark script end to end on a tiny budget (tests/test_benchmarks.py): that the
# measuring still runs, not a product behaviour; CI (.ci/run) runs it after make test.
test-bench: setup
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist worksteal -m bench $(ARGS)

# The edit loop: everything but the tests that start real job processes or services
# (markers `process` and `service`, pyproject.toml); in-process jobs and unit tests only.
test-fast: setup
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist worksteal -m "not process and not service" $(ARGS)

bench: setup
	$(BIN)/python -m benchmarks.run_all $(ARGS)

# A team store on this machine: PostgreSQL and an MLflow server on it (artifacts proxied), for
# tracking.uri / hydra.sweeper.storage. `make services ARGS=stop` stops them.
services: setup
	$(BIN)/python scripts/services.py $(ARGS)

# The MLflow UI as a person sees it (docs/screenshots/): a small store served and shot in a
# headless Chromium (Debian: apt-get install chromium).
screenshots: setup
	$(BIN)/python -m pip install --quiet $(CONSTRAINTS) -e ".[screenshots]"
	$(BIN)/python scripts/screenshots.py

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pre-commit run --all-files

typecheck: setup
	$(BIN)/mypy

# Refresh requirements.lock: the newest releases pyproject.toml allows, installed in a scratch venv.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[dev,export,launchers,ray,postgres]"
	{ echo "# Exact versions \`make\` installs (pip constraints). Refresh with \`make lock\`; do not edit."; \
	  echo "# Made by $$(.venv-lock/bin/python -m pip --version | cut -d' ' -f1-2) on Python $$(.venv-lock/bin/python -c 'import platform; print(platform.python_version(), platform.system(), platform.machine())')."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .venv-lock
	@echo "requirements.lock: $$(grep -c '==' requirements.lock) packages pinned"

# Check the floors in pyproject.toml: every direct dependency at its oldest allowed release, then
# the suite. FLOOR_PYTHON picks the interpreter (the oldest Python the project supports is best).
FLOOR_PYTHON ?= $(PYTHON)
floor:
	rm -rf .venv-floor && $(FLOOR_PYTHON) -m venv .venv-floor
	.venv-floor/bin/python -m pip install --quiet --upgrade pip packaging "tomli; python_version < '3.11'"
	.venv-floor/bin/python scripts/dependency_floor.py > .venv-floor/floor.txt
	.venv-floor/bin/python -m pip install --quiet -e ".[dev,export,launchers,ray,postgres]" -c .venv-floor/floor.txt
	.venv-floor/bin/python -m pip freeze --exclude-editable > .venv-floor/installed.txt
	.venv-floor/bin/python -m pytest -n auto --maxprocesses=4 --dist worksteal $(ARGS)

# What runs and tools write: run and sweep folders, the MLflow store and its artifacts, caches.
# Not data/ (data sets you downloaded) and not .venv.
GENERATED = outputs multirun mlruns mlartifacts $(wildcard mlflow.db*) .pytest_cache .ruff_cache .mypy_cache

clean:
	@for path in $(GENERATED); do \
		if [ -e "$$path" ]; then rm -rf "$$path" && echo "removed $$path"; fi; \
	done
