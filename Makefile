# Everyday targets. `make run` and `make test` create .venv and install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run studio test lint typecheck bench chaos soak fuzz clean

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

test: $(STAMP)
	$(PY) -m pytest -q

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
