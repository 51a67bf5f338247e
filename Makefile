# Every target sets itself up: a fresh clone needs only Python 3.11+ and make.
# Versions come from uv.lock (every package, pinned with its hashes); uv itself, pinned
# here, is bootstrapped from PyPI into the venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9
UV     := $(BIN)/uv
HOST   ?= 127.0.0.1
PORT   ?= 8000

# uv manages .venv in place: it keeps pip and uv (--inexact), never downloads a Python
# (the one that made the venv is the one used), and installs the project editable.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
# Compiled modules, cached: installed packages are compiled once at install (as in the
# Dockerfile), and the project's own modules as Python does by default, even where the
# environment sets PYTHONDONTWRITEBYTECODE. Without a cache each process compiles every
# module again: the test suite starts servers and CLIs often, and each start took ~4 s.
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install lock run test lint format bench bench-quick clean

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "claims-api needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	@# -qq: only errors; a machine's own pip configuration (an unreachable extra index) warns
	@# about itself on every install, which is not this project's to fix.
	$(BIN)/python -m pip install -qq --disable-pip-version-check 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --inexact --quiet
	@touch $(STAMP)

install: $(STAMP)

lock: $(UV) ## re-resolve uv.lock from pyproject.toml (newest versions allowed), then install it
	$(UV) lock --upgrade
	$(UV) sync --locked --extra dev --inexact --quiet
	@touch $(STAMP)

run: install ## migrate, seed and serve on http://$(HOST):$(PORT) (SQLite by default)
	$(BIN)/claims-api seed
	$(BIN)/claims-api serve --host $(HOST) --port $(PORT)

test: install ## every test, on SQLite and (when reachable) PostgreSQL
	$(BIN)/python -m pytest -n auto

lint: install
	$(BIN)/ruff check app tests migrations
	$(BIN)/ruff format --check app tests migrations
	$(BIN)/mypy app

format: install
	$(BIN)/ruff check --fix app tests migrations
	$(BIN)/ruff format app tests migrations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache claims.db claims.db-wal claims.db-shm

# The benchmark (bench/README.md): installs wrk (apt) and bench/.venv (Datasette, matplotlib,
# py-spy) when missing, builds cached archives under bench/.data/, writes bench/RESULTS.md.
BENCH_SIZES   ?= 10000,100000
BENCH_ENGINES ?= sqlite,postgresql
BENCH_SECONDS ?= 8

bench/.venv/.installed-stamp: bench/requirements.txt
	$(PYTHON) -m venv bench/.venv
	bench/.venv/bin/python -m pip install --quiet -r bench/requirements.txt
	@touch $@

bench: install bench/.venv/.installed-stamp
	$(BIN)/python -m bench.run --sizes $(BENCH_SIZES) --engines $(BENCH_ENGINES) --duration $(BENCH_SECONDS) --check-writes
	$(BIN)/python -m bench.report
	$(BIN)/python -m bench.plans --sizes $(BENCH_SIZES) --engines $(BENCH_ENGINES)

bench-quick: install bench/.venv/.installed-stamp ## 10k claims, SQLite, 3 s a scenario
	$(BIN)/python -m bench.run --sizes 10000 --engines sqlite --duration 3 --out bench/.data/quick.json
	$(BIN)/python -m bench.report bench/.data/quick.json --out bench/.data/QUICK.md --smoke
