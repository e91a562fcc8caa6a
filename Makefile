# Everyday targets. `make run` and `make test` create .venv and install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run studio test test-cluster lint typecheck bench chaos soak fuzz clean

$(STAMP): pyproject.toml
	bash scripts/bootstrap.sh $(VENV)
	touch $(STAMP)

STUDIO_PORT ?= 5006
STUDIO := $(PY) -m panel serve studio --address 127.0.0.1 --port $(STUDIO_PORT) \
	--allow-websocket-origin 127.0.0.1:$(STUDIO_PORT) --allow-websocket-origin localhost:$(STUDIO_PORT)

# The demo prints a job of each example app, then the studio serves them at http://127.0.0.1:5006/studio
run: $(STAMP)
	$(PY) -m hotmesh_core.demo
	$(STUDIO)

studio: $(STAMP)
	$(STUDIO)

# The whole suite on one Redis, then the engine scenarios (S1-S25), the example apps, the fault
# battery and the quorum activation again on a real three-master Redis Cluster (sharded app).
CLUSTER_TESTS := tests/engine/test_scenarios_basic.py tests/engine/test_control_flow.py \
	tests/engine/test_interrupts_signals.py tests/engine/test_versions.py tests/engine/test_example_apps.py \
	tests/engine/test_guards.py tests/engine/test_dead_letters.py tests/fault/test_faults.py \
	tests/fault/test_fleet_versions.py tests/engine/test_shards.py

test: $(STAMP)
	$(PY) -m pytest -q
	$(MAKE) test-cluster

test-cluster: $(STAMP)
	HMSH_TEST_REDIS=cluster $(PY) -m pytest -q $(CLUSTER_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hotmesh_core tests bench studio
	$(VENV)/bin/mypy

chaos: $(STAMP)
	$(PY) -m pytest -q -m chaos

# 100,000 jobs through 2 engine + 2 worker processes, one SIGKILLed every few seconds (tests/fault/soak.py)
soak: $(STAMP)
	$(PY) -m tests.fault.soak --jobs 100000

# Property-based fuzzing with the long profile: thousands of random examples per property (the
# default test run uses the bounded, derandomized 'ci' profile). A failure prints its example. No
# per-test timeout: a property runs for minutes here; each example has its own hang guard.
fuzz: $(STAMP)
	$(PY) -m pytest -q tests/fuzz -p no:cacheprovider --timeout=0 --hypothesis-profile=long \
		--hypothesis-show-statistics

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
