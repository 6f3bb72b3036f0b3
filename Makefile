# Spacelift Portal. `make run` for the demo, `make test` for the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench bench-deploy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The simulator on :8765 and the portal on :8000, connected; admin/admin; Ctrl-C stops both.
run: $(STAMP)
	@bash scripts/run-demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench
	$(PY) -m bench.deploy

# Only the deployment scenarios: burst, hung Spacelift, Redis stopped (SQLite, PostgreSQL+Redis).
bench-deploy: $(STAMP)
	$(PY) -m bench.deploy

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
