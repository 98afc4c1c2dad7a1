# The two commands a new machine needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# A Python >= 3.12: first on PATH, then from pyenv.
PYTHON ?= $(shell for c in python3.14 python3.13 python3.12 python3 python; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done; \
	root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
	for p in $$(ls -d $$root/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done)

# DEBUG is off in tests as in production, so checks and tests need a SECRET_KEY.
CHECK_ENV := SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only}

.PHONY: install run test lint typecheck check clean-data

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python >= 3.12 found on PATH or in pyenv." >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m crm_project.run

# In parallel (pytest-xdist): each worker has its own test database, and the tests that
# start a Celery worker take turns (tests/conftest.py). `make test PYTEST_ARGS="-n 0
# tests/x.py"` runs in one process.
TEST_WORKERS ?= 2
test: install
	$(CHECK_ENV) $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(CHECK_ENV) $(VENV)/bin/mypy

check: lint typecheck test

# The private servers are stopped first: their data is about to go.
clean-data:
	@if [ -x $(PY) ]; then $(PY) -c 'from pathlib import Path; \
	from crm_project import embedded; \
	embedded.stop_database(Path("var")); embedded.stop_redis(Path("var"))'; fi
	rm -rf var/
