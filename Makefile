# The two commands of the README. Each does all of its own set-up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint typecheck unit browser install clean bench

run: $(INSTALLED)
	$(BIN)/guestcomms migrate
	$(BIN)/guestcomms demo-data
	$(BIN)/guestcomms dev

test: lint typecheck unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

unit: $(INSTALLED) browser
	$(BIN)/pytest

# Benchmarks (bench/run.py; not part of `make test`): writes bench/RESULTS.md.
# `make bench BENCH_ONLY=campaign,inbound` runs some, BENCH_QUICK=1 smoke sizes;
# both write bench/RESULTS.local.md (git ignores it) instead. Needs PostgreSQL (TEST_DATABASE_URL, or
# the local one) and redis-server installed; it starts a Redis of its own.
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

install: $(INSTALLED)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "guestcomms needs Python 3.11 or newer; set PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
