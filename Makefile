# Sangsaeng: the two-command quick start is `make demo` and `make test`.
# Everything a fresh machine lacks is installed here, so CI and a newcomer run the same.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench bench-pipeline bench-views bench-api faults ui postgres-server clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found " + sys.version.split()[0] + ")")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## venv in .venv, editable install with dev extras, Kafka jars resolved
	$(BIN)/sangsaeng stack fetch

# The PostgreSQL matrix needs the server binaries. As root on Debian we install them
# (with a policy-rc.d so the package does not start a system cluster nobody asked for);
# otherwise we say what is missing and the launcher explains it again at start.
postgres-server:  ## install the Debian PostgreSQL server package when it is missing
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing the PostgreSQL server (Debian package postgresql)"; \
		policy=/usr/sbin/policy-rc.d; made=; \
		if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy; chmod +x $$policy; made=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
		rc=$$?; [ -n "$$made" ] && rm -f $$policy; exit $$rc; \
	else \
		echo "PostgreSQL server binaries missing: run 'sudo apt-get install postgresql'"; exit 1; \
	fi

demo: setup  ## start the stack and run the demo story (again and again, no clean-up needed)
	$(BIN)/sangsaeng demo

# The Dagster UI and daemon (the lag sensor starts ingest runs) on the state dir's
# instance, where `sangsaeng ingest` and the demo keep their runs too; address from
# SANGSAENG_DAGSTER_URL. The platform itself comes from `sangsaeng stack up` (or `make demo`).
ui: setup  ## open the Dagster UI (default 127.0.0.1:3000): assets, checks, runs, the ingest sensor
	$(BIN)/sangsaeng ui

# The test session starts its own Kafka broker and PostgreSQL on free ports in a
# temporary state dir and stops them at the end, passing or failing.
test: setup postgres-server  ## install what is missing, start what the tests need, run them
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

bench: setup  ## run the benchmarks (each prints its figure next to its ceiling)
	$(BIN)/python -m benchmarks.serde
	$(BIN)/python -m benchmarks.ingest_edge

bench-pipeline: setup  ## ingest of 1M events vs bare consume + decode, SQLite and PostgreSQL (~15 min)
	$(BIN)/python -m benchmarks.pipeline --profile

bench-views: setup  ## views: incremental refresh vs full rebuild on 10M events, both databases; event -> view latency (over an hour)
	$(BIN)/python -m benchmarks.views

bench-api: setup  ## buyer API: 50 clients over views of 10M events vs a ceiling without rules and audit (about 45 min; --keep reuses the build)
	$(BIN)/python -m benchmarks.api

faults: setup  ## the fault suite: broker, gateway, ingest, PostgreSQL faults and poison (~10 min)
	$(BIN)/python -m benchmarks.faults

lint: $(STAMP)  ## ruff, and the layering of the top-level folders (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:  ## stop the local stack and delete the venv and local state
	-test -x $(BIN)/sangsaeng && $(BIN)/sangsaeng stack down --wipe
	rm -rf $(VENV) .sangsaeng .pytest_cache .ruff_cache
