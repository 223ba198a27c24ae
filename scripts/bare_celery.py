"""Bare Celery doing a run's minimum: the baseline `make bench` measures our runs against.

    celery -A bare_celery worker -P gevent -c 100     (from scripts/, as bench_runs.py starts it)

No Django: one task, ``bare.run(run_id)``, claims its row (an UPDATE queued → running), calls
BARE_URL when it is set (an httpx GET, as an http step would), and records the result (an UPDATE
running → succeeded). Connections come from a psycopg pool, like our gevent workers'.
Configured as our workers are: Redis broker, acks_late, the same prefetch, per-task log lines
off. BARE_DATABASE_URL and BARE_REDIS_URL name the bench's own database and Redis db.
"""

import logging
import os
import sys

import httpx
import psycopg_pool
from celery import Celery, signals
from psycopg.types.json import Jsonb

TABLE = "bench_bare_run"
GEVENT = "gevent.monkey" in sys.modules and sys.modules["gevent.monkey"].is_module_patched("socket")

app = Celery("bare", broker=os.environ["BARE_REDIS_URL"])
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=2 if GEVENT else 1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    broker_transport_options={"max_connections": 300},
)
pool = psycopg_pool.ConnectionPool(
    os.environ["BARE_DATABASE_URL"], min_size=1, max_size=10, kwargs={"autocommit": True}, open=False
)


@signals.worker_process_init.connect
@signals.worker_init.connect
def _open_pool(**kwargs) -> None:
    pool.open()


@signals.setup_logging.connect
def _quiet_task_lines(**kwargs) -> None:
    # As in our workers (vingine.settings LOGGING): a line per task received and done costs more
    # than the task.
    logging.basicConfig(level=logging.WARNING)


URL = os.environ.get("BARE_URL")  # the receiver, in the http cases
# One client for every task (thread- and greenlet-safe): loading the CA bundle per client would cost
# more than the task.
http = httpx.Client(timeout=60)


@app.task(name="bare.run")
def run(run_id: str) -> None:
    with pool.connection() as conn:
        claimed = conn.execute(
            f"UPDATE {TABLE} SET status = 'running', started_at = now() WHERE id = %s AND status = 'queued'", [run_id]
        ).rowcount
    if claimed != 1:
        return
    output = {"echo": run_id}
    if URL:
        response = http.get(URL)
        output = {"status_code": response.status_code, "body": response.text}
    with pool.connection() as conn:
        conn.execute(
            f"UPDATE {TABLE} SET status = 'succeeded', finished_at = now(), output = %s"
            " WHERE id = %s AND status = 'running'",
            [Jsonb(output), run_id],
        )
