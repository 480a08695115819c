# 蒙速办 BFF. `make run` sets up and starts everything; `make test` sets up and runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-$(shell cat requirements.txt | md5sum | cut -c1-12)

.PHONY: run test test-cluster fuzz bench bench-population index reindex stop setup redis-bin postgres-bin chromium-bin clean

setup: $(DEPS_STAMP) redis-bin postgres-bin

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) || { echo "python venv support missing; installing python3-venv" >&2; \
	  $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get update -q && \
	  $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }

$(DEPS_STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@rm -f $(VENV)/.deps-* && touch $@

redis-bin:
	@scripts/ensure_redis.sh

postgres-bin:
	@scripts/ensure_postgres.sh

# The console's browser tests drive Debian's Chromium (no browser download from elsewhere).
chromium-bin:
	@scripts/ensure_chromium.sh

run: setup
	@scripts/run.sh

index: setup
	$(PY) -m catalog ensure --out var/index --scale $${MSB_CATALOG_SCALE:-1.0}

reindex: setup
	$(PY) -m catalog build --out var/index --scale $${MSB_CATALOG_SCALE:-1.0}

test: setup chromium-bin
	$(VENV)/bin/pytest

# The same tests against a private 3-master Redis Cluster (tests/conftest.py starts it): every script and
# transaction must keep to one hash slot. Left out: tests that stop or pause the session Redis (marked
# single_redis_only), the browser console and the HTTP fault/fuzz modules, which start their own servers.
CLUSTER_TESTS := tests/kernel tests/auth tests/integrations tests/push tests/bff/auth tests/bff/push \
	tests/bff/caching tests/bff/home tests/bff/test_foundation.py tests/bff/test_response_cache_http.py
test-cluster: setup
	MSB_TEST_REDIS=cluster $(VENV)/bin/pytest $(CLUSTER_TESTS) -q

# The long schemathesis run: every check, every operation anonymous and signed in, positive and negative
# (MSB_FUZZ_EXAMPLES each), then the stateful phase; prints cases per operation and the failures.
# ~22,000 cases by default; `make test` runs the same test bounded.
fuzz: setup
	MSB_FUZZ_EXAMPLES=$${MSB_FUZZ_EXAMPLES:-110} MSB_FUZZ_SCENARIOS=$${MSB_FUZZ_SCENARIOS:-150} \
	MSB_FUZZ_STEPS=$${MSB_FUZZ_STEPS:-12} \
	$(VENV)/bin/pytest tests/bff/test_fuzz_contract.py -p no:logging --timeout=0 -q

bench: setup
	$(PY) -m bench

# The whole province (24.46 M synthetic citizens; MSB_POPULATION=… for fewer): bulk load into PostgreSQL,
# bytes per citizen in PostgreSQL and Redis, the targeting build, a campaign plan over everyone, logins
# over HTTP. ~50 GB of disk and the better part of an hour on 2 cores; figures in var/bench/population/.
bench-population: setup index
	$(PY) -m bench.population

stop:
	@scripts/redis.sh stop
	@scripts/postgres.sh stop

clean:
	rm -rf var $(VENV)
