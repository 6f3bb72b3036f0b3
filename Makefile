# Spacelift Portal. `make run` for the demo, `make test` for the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Node tools the tests start: the OpenID Connect provider and axe-core (tests/js/package.json).
JS_STAMP := tests/js/node_modules/.installed

.PHONY: install run test lint format bench bench-deploy screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(JS_STAMP): tests/js/package.json
	@if command -v npm >/dev/null; then \
		npm install --prefix tests/js --no-audit --no-fund --silent && touch $(JS_STAMP); \
	else echo "npm not found: the single sign-on and accessibility tests cannot run"; fi

install: $(STAMP)

# The simulator on :8765 and the portal on :8000, connected; admin/admin; Ctrl-C stops both.
# `make run CONNECTION=form`: the connection is left unset, for the admin to type on the
# settings page (the values to type are printed).
run: $(STAMP)
	@bash scripts/run-demo

# The non-browser tests in two processes (pytest-xdist, a whole file to each at a time), and
# beside them the browser tests in a process of their own; its report is printed after the
# others'. The browser tests are the longer path (they wait on Chromium and on intervals), so
# the others run at a lower priority and take the CPU those leave. TEST_WORKERS=4 and
# BROWSER_WORKERS=2 on a machine with more cores.
TEST_WORKERS ?= 2
BROWSER_WORKERS ?= 1
test: $(STAMP) $(JS_STAMP)
	@report=$$(mktemp); \
	$(PY) -m pytest tests/e2e -n $(BROWSER_WORKERS) --dist loadfile >"$$report" 2>&1 & browser=$$!; \
	trap 'kill $$browser 2>/dev/null; rm -f "$$report"' INT TERM; \
	nice -n 5 $(PY) -m pytest --ignore=tests/e2e -n $(TEST_WORKERS) --dist loadfile; others=$$?; \
	wait $$browser; browsers=$$?; \
	echo "---- browser tests (tests/e2e) ----"; cat "$$report"; rm -f "$$report"; \
	[ $$others -eq 0 ] && [ $$browsers -eq 0 ]

# The README's screenshots, retaken from the demo in Chromium (scripts/screenshots.py).
screenshots: $(STAMP)
	$(PY) scripts/screenshots.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench
	$(PY) -m bench.stack_paging
	$(PY) -m bench.deploy
	$(PY) -m bench.access_sets
	$(PY) -m bench.live

# Only the deployment scenarios: burst, hung Spacelift, Redis stopped (SQLite, PostgreSQL+Redis).
bench-deploy: $(STAMP)
	$(PY) -m bench.deploy
	$(PY) -m bench.live

clean:
	rm -rf $(VENV) staticfiles .pytest_cache tests/js/node_modules
