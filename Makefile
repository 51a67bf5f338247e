# Every target sets itself up: a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint format bench bench-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "claims-api needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install ## migrate, seed and serve on http://$(HOST):$(PORT) (SQLite by default)
	$(BIN)/claims-api seed
	$(BIN)/claims-api serve --host $(HOST) --port $(PORT)

test: install ## every test, on SQLite and (when reachable) PostgreSQL
	$(BIN)/python -m pytest

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

bench-quick: install bench/.venv/.installed-stamp ## 10k claims, SQLite, 3 s a scenario
	$(BIN)/python -m bench.run --sizes 10000 --engines sqlite --duration 3 --out bench/.data/quick.json
	$(BIN)/python -m bench.report bench/.data/quick.json --out bench/.data/QUICK.md --smoke
