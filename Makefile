# Two commands for a newcomer: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test lint typecheck pytest bench bench-quick bench-accuracy clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tracker demo

lint: $(STAMP)
	$(VENV)/bin/ruff check tracker dashboards tests bench migrations/env.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy tracker

pytest: $(STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m bench.run --sizes 1,10,100

bench-quick: $(STAMP)
	$(PY) -m bench.run --sizes 1

bench-accuracy: $(STAMP)
	$(PY) bench/accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data/runtime data/*.db data/*.db-*
