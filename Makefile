# Two commands for a newcomer: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8050
# The slowest tests are listed at the end of every run, so the suite's time can be watched.
PYTEST_ARGS ?= --durations=20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test lint typecheck pytest bench bench-quick bench-accuracy screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# `make demo PORT=8123` serves on another port; `make demo ARGS=-v` shows every log line.
demo: $(STAMP)
	$(VENV)/bin/tracker demo --port $(PORT) $(ARGS)

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
	$(PY) -m bench.run --quick

bench-accuracy: $(STAMP)
	$(PY) bench/accuracy.py

# PNGs of every page at 1,400 and 1,024 px into docs/screenshots/ (Playwright, /usr/bin/chromium).
screenshots: $(STAMP)
	$(PY) -m tests.dashboard.screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data/runtime data/*.db data/*.db-*
