# The two commands of the README. Each does all of its own set-up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint typecheck unit browser pg-client audit-deps install clean bench

run: $(INSTALLED)
	$(BIN)/guestcomms migrate
	$(BIN)/guestcomms demo-data
	$(BIN)/guestcomms dev

test: lint typecheck audit-deps unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies fail the build (pip-audit, PyPI's
# data); the ones that do not apply are listed with a reason in dependency-audit-ignore.toml.
audit-deps: $(INSTALLED)
	$(BIN)/python tools/audit_deps.py

unit: $(INSTALLED) browser pg-client
	$(BIN)/pytest

# Benchmarks (bench/run.py; not part of `make test`): writes bench/RESULTS.md.
# `make bench BENCH_ONLY=campaign,inbound` runs some, BENCH_QUICK=1 smoke sizes;
# both write bench/RESULTS.local.md (git ignores it) instead. Needs PostgreSQL
# (TEST_DATABASE_URL, or the local one) and redis-server; it starts a Redis of its own.
bench: $(INSTALLED)
	$(BIN)/python -m bench.run $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) $(if $(filter 1 yes true,$(BENCH_QUICK)),--quick)

# Guests' pages are checked in a real browser (tests/test_unsubscribe_accessibility.py):
# Debian's Chromium, installed once. Without apt-get the test skips, saying why (and
# fails under CI=true).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests"; \
			$(SUDO) apt-get update -qq \
				&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "No $(CHROMIUM) and no apt-get: the browser tests will be skipped" >&2; \
		fi; \
	fi

# `guestcomms backup` / `restore` on PostgreSQL run pg_dump and pg_restore, which must be at
# least the server's version (15 here; Debian's postgresql-client brings them). Without
# apt-get the PostgreSQL backup test skips, saying why (and fails under CI=true).
pg-client:
	@if ! command -v pg_dump >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's postgresql-client for the backup tests"; \
			$(SUDO) apt-get update -qq \
				&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client; \
		else \
			echo "No pg_dump and no apt-get: the PostgreSQL backup test will be skipped" >&2; \
		fi; \
	fi

install: $(INSTALLED)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "guestcomms needs Python 3.11 or newer; set PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
