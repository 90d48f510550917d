# Custodian: two commands. `make run` serves the embedded default; `make test` runs every test.
# Installs are pinned by the lock files in requirements/ (regenerate them with `make lock`).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
MIN_VENV := .venv-min
# Port and data folder of `make run`: `make run PORT=8090 DATA=/srv/custodian`.
PORT ?= 8080
DATA ?= ./var
# Test processes: two suit this 2-core machine (pytest-xdist); `make test WORKERS=0` runs serially.
WORKERS ?= 2
XDIST := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadscope)
LINTED := server ingest transcode integrity tests bench

.PHONY: run test test-fast test-min lint typecheck lock bench clean

# The test venv (everything; what CI and the other targets use).
$(STAMP): pyproject.toml requirements/test.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/test.lock -e '.[test]'
	touch $(STAMP)

# The server alone (SQLite + local store), without the test extras.
$(RUN_STAMP): pyproject.toml requirements/server.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/server.lock -e '.[server]'
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/custodian migrate --data $(DATA)
	$(VENV)/bin/custodian serve --data $(DATA) --port $(PORT)

test: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy
	$(PY) -m pytest -q $(XDIST)

# The quick loop while editing: no PostgreSQL, S3, browser or slow tests (about 2 minutes).
test-fast: $(STAMP)
	$(PY) -m pytest -q $(XDIST) -m "not slow and not postgres and not s3 and not browser"

# Once per CI run: the declared minimum versions (pyproject's floors, requirements/test-min.lock)
# in a second venv, on a smoke subset.
test-min: requirements/test-min.lock
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -c requirements/test-min.lock -e '.[test]'
	$(MIN_VENV)/bin/python -m pytest -q -p no:cacheprovider $(XDIST) -m "not slow and not browser" \
	    tests/integrity tests/transcode tests/server/test_cli.py tests/server/test_catalogue.py \
	    tests/server/test_migrations.py tests/server/test_settings.py \
	    tests/ingest/test_tus_protocol.py tests/export/test_export_package.py tests/deploy

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# Regenerate the lock files from pyproject.toml after changing a dependency there.
lock: $(STAMP)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv
	for r in agent server test; do \
	  case $$r in server) x="--extra server --extra postgres --extra s3";; *) x="--extra $$r";; esac; \
	  $(VENV)/bin/uv pip compile pyproject.toml $$x --python-version 3.11 --quiet \
	    --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
	    -o requirements/$$r.lock; \
	done
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --resolution lowest-direct \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet \
	  --custom-compile-command "make lock" -o requirements/test-min.lock

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/store_put.py

clean:
	rm -rf $(VENV) $(MIN_VENV) var .pytest_cache
