# Custodian: two commands. `make run` serves the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/custodian migrate --data ./var
	$(VENV)/bin/custodian serve --data ./var

test: $(STAMP)
	$(VENV)/bin/ruff check server ingest transcode integrity tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check server ingest transcode integrity tests bench
	$(VENV)/bin/ruff format --check server ingest transcode integrity tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/store_put.py

clean:
	rm -rf $(VENV) var .pytest_cache
