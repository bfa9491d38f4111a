# Every target does its own setup, so each works on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

# Tests always run on the embedded default; test-services sets its own URLs.
NO_SERVICES_ENV := env -u DATABASE_URL -u REDIS_URL

.PHONY: help setup lint run test test-services test-e2e bench bench-services eval clean

help:
	@echo "make setup          create .venv, install requirements-dev.txt (when changed), npm packages, var/"
	@echo "make run            migrate, seed demo data, serve http://127.0.0.1:8000 (Daphne + Celery worker/beat)"
	@echo "make lint           ruff: pyflakes, bugbear and bandit's security rules"
	@echo "make test           lint, then pytest -n 2 on the embedded default (SQLite, in-memory layer), no API fuzz"
	@echo "make test-services  the whole suite, API fuzz included, against throwaway PostgreSQL 15 + Redis servers"
	@echo "make test-e2e       browser journeys (Playwright + Debian's Chromium) against Daphne on PostgreSQL + Redis"
	@echo "make bench          every benchmark under tests/bench, on the embedded default and on PostgreSQL + Redis,"
	@echo "                    then one table of targets (var/bench/table.json, table.md)"
	@echo "make bench-services the PostgreSQL + Redis pass only, and its table"
	@echo "make eval           the mentor's retrieval and the coaching analyser's agreement on tests/data/"
	@echo "make clean          remove var/ and .venv"

setup: $(STAMP) $(if $(wildcard package.json),$(NPM_STAMP))
	@mkdir -p var

$(PY):
	python3 -m venv $(VENV)

# Reinstall only when a requirements file is newer than the stamp.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# Front-end libraries that PyPI packages do not ship come from npm (see DESIGN: no vendored files).
$(NPM_STAMP): package.json $(wildcard package-lock.json)
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

run: setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-true} scripts/run.sh

lint: setup
	$(VENV)/bin/ruff check .

# The schemathesis run over the whole API (marker `fuzz`, ~3 min) belongs to test-services only.
test: setup lint
	$(NO_SERVICES_ENV) scripts/pytest.sh -n 2 -m "not fuzz"

test-services: setup
	$(NO_SERVICES_ENV) scripts/services.sh scripts/pytest.sh -n 2

# Playwright drives the system's Chromium (CHROMIUM, default /usr/bin/chromium); it never downloads a browser.
test-e2e: setup
	$(NO_SERVICES_ENV) scripts/services.sh scripts/pytest.sh tests/e2e \
		--override-ini="addopts=-p no:cacheprovider --strict-markers"

# Both passes, then one table of every target (var/bench/table.json and table.md); earlier results are cleared
# first so the table is of this run. A pass that fails (a target missed) still lets the other run and the
# table print, and the target fails at the end. pytest does not capture log records here: formatting every
# request's access line for its report costs in-process requests about 0.5 ms (in production it is a write).
BENCH_PYTEST := scripts/pytest.sh tests/bench --override-ini="addopts=-p no:cacheprovider -p no:logging --strict-markers" \
	--override-ini="python_files=test_*.py bench_*.py"

bench bench-services: setup
	@rm -f var/bench/*.json var/bench/table.md
	@status=0; \
	if [ "$@" = bench ]; then $(NO_SERVICES_ENV) $(BENCH_PYTEST) || status=1; fi; \
	$(NO_SERVICES_ENV) scripts/services.sh $(BENCH_PYTEST) || status=1; \
	$(PY) -m tests.bench.table var/bench || status=1; \
	exit $$status

eval: setup
	$(NO_SERVICES_ENV) VAR_DIR=$$(mktemp -d) sh -c '$(PY) manage.py migrate -v0 && $(PY) manage.py evaluate_mentor --misses && \
		$(PY) manage.py evaluate_coaching --cases tests/data/coaching_conversations_holdout.json --misses'

clean:
	rm -rf var $(VENV)
