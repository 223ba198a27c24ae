# vingine — `make run` starts the whole system, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# make test talks to real PostgreSQL and Redis; override either on the command line.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vingine
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The TypeScript client's live stack gets a database of its own next to the suite's.
CLIENT_DATABASE_URL ?= $(TEST_DATABASE_URL)_client

# make bench seeds its own database and Redis db (never the test ones); it is not part of make test.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vingine_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/4
BENCH_ARGS ?=
# make chaos starts its own PostgreSQL cluster and redis-server (it restarts them), on free ports.
CHAOS_ARGS ?=

# make load starts its own stack against a database it drops and re-creates each run, and a Redis
# db it flushes (never the test ones); it is not part of make test.
LOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vingine_load
LOAD_REDIS_URL ?= redis://127.0.0.1:6379/5
LOAD_ARGS ?=

.PHONY: install run test test-fast test-client fuzz bench bench-stream chaos load compose-smoke lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: install
	@scripts/run.sh

test: install test-client
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest
	@# make run's default database is SQLite: the scheduler's claims must work there too.
	DATABASE_URL=sqlite:///$(CURDIR)/.test-sqlite.sqlite3 REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q \
		tests/cronjobs/test_scheduler_claims.py tests/cronjobs/test_scheduler_lookahead.py \
		tests/cronjobs/test_scheduler_sweeper.py tests/cronjobs/test_scheduler_tick.py \
		tests/workflows/test_run_execute.py tests/workflows/test_run_concurrency_limit.py

test-fast: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m "not e2e"

# The schemathesis runs of make test (owner, operator, a second user, no token) with many more
# examples and every phase for each caller; FUZZ_SEED=<n> explores other requests. Minutes, not part of make test.
FUZZ_EXAMPLES ?= 20
FUZZ_SEED ?= 20261126
fuzz: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SCHEMATHESIS_MAX_EXAMPLES=$(FUZZ_EXAMPLES) \
		SCHEMATHESIS_SEED=$(FUZZ_SEED) SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful \
		SCHEMATHESIS_RUN_TIMEOUT=900 $(BIN)/pytest -q --timeout=960 tests/e2e/test_openapi_schemathesis.py

# clients/nextjs: its generated types are current, it builds, and its tests pass against a live
# web + worker + beat that its test script starts.
test-client: install
	cd clients/nextjs && npm ci --prefer-offline --no-audit --no-fund && \
		DATABASE_URL=$(CLIENT_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) npm test

# Beat: the stock DatabaseScheduler against ours (BENCH_ARGS). Runs: ours against bare Celery doing a
# run's minimum, on the same pool and processes (BENCH_RUNS_ARGS, e.g. "--cases echo,http").
BENCH_RUNS_ARGS ?=
bench: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python scripts/bench.py $(BENCH_ARGS)
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python scripts/bench_runs.py $(BENCH_RUNS_ARGS)

# The live run stream: events delivered with 1,000 and 5,000 streams open on one stream server
# process, and its memory (BENCH_STREAM_ARGS, e.g. "--streams 5000 --rate 500"). Not part of make test.
BENCH_STREAM_ARGS ?=
bench-stream: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python scripts/bench_stream.py $(BENCH_STREAM_ARGS)

chaos: install
	$(BIN)/python scripts/chaos.py $(CHAOS_ARGS)

# 50 API clients for 60 s against gunicorn + 2 celery workers + beat, beside a 1-client baseline.
load: install
	LOAD_DATABASE_URL=$(LOAD_DATABASE_URL) LOAD_REDIS_URL=$(LOAD_REDIS_URL) $(BIN)/python scripts/load.py $(LOAD_ARGS)

# The docker compose stack built and brought up (project vingine-smoke, free ports), the quickstart run
# against it, a worker stopped mid-run, then down -v; docker compose v2 or docker-compose v1, whichever
# is installed (COMPOSE="..." to choose). A few minutes, not part of make test.
compose-smoke:
	@scripts/compose_smoke.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache clients/nextjs/node_modules clients/nextjs/dist
