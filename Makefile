# Xiangzhi 乡治 — developer commands. The two you need: `make run` and `make test`.
#
#   make run      migrate, seed the demo county, start Redis/worker/web, print URLs and logins
#   make test     the test suite (SQLite; set TEST_DATABASE_URL / REDIS_URL for PostgreSQL / Redis)
#   make lint     ruff check + ruff format --check
#   make worker   one RQ worker (needs REDIS_URL)
#   make migrate  flask db upgrade
#
# Each target first makes sure .venv exists and holds requirements.txt (re-installed when
# requirements.txt is newer than .venv/.installed).

# Recorded when make starts, so `make run` can report the time to first page incl. venv setup.
XZ_DEV_T0 := $(shell date +%s.%N)

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers (each with a database of its own); at most 4, each takes a Redis database below REDIS_URL's.
TEST_WORKERS ?= auto

export FLASK_APP := backend.app:create_app

.PHONY: run test lint worker migrate venv format clean-venv bench

# A plain command line (no shell in between), so make's SIGTERM reaches the supervisor directly.
run: export XZ_DEV_T0 := $(XZ_DEV_T0)
run: $(STAMP)
	$(BIN)/python scripts/dev.py

# Bytecode (and pytest's rewritten test modules) cached in __pycache__ even where the environment sets
# PYTHONDONTWRITEBYTECODE: without the cache each xdist worker and every worker process a test starts compiles
# the project again (collection 10 s instead of 3 s on a 2-core machine).
test: export PYTHONDONTWRITEBYTECODE :=
test: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --maxprocesses=4 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(STAMP)
	$(BIN)/flask worker

migrate: $(STAMP)
	$(BIN)/flask db upgrade

venv: $(STAMP)

$(BIN)/python:
	@echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)

# pip compiles what it installs one file at a time; compileall on every core after it: 42 s instead of 48 s here.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --no-compile -r requirements.txt
	$(BIN)/python -m compileall -qq -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	@touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python -m bench.points_read

clean-venv:
	rm -rf $(VENV)
