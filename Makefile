# Everyday targets. `make run` and `make test` create .venv and install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench chaos clean

$(STAMP): pyproject.toml
	bash scripts/bootstrap.sh $(VENV)
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m hotmesh_core.demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check hotmesh_core tests bench
	$(VENV)/bin/mypy

chaos: $(STAMP)
	$(PY) -m pytest -q -m chaos

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
