"""The database connection dies in the middle of a request (a restart, a failover, an operator's
pg_terminate_backend): the caller gets a 503 in the error shape with Retry-After, told whether to
just retry (a read) or to read back first (a write), and nothing is half-written."""

import threading
import time

import psycopg
import pytest
from django.db import connection

from cronjobs import schedules
from cronjobs.models import CronJob


@pytest.fixture
def job(make_job, workflow):
    return make_job(workflow, schedules.interval_spec(seconds=60), "hourly-ish")


def kill_the_request_once_it_waits(dsn: str, table: str, started: threading.Event) -> None:
    """Hold an exclusive lock on ``table`` until a request blocks on it, then end that request's
    database session, as a server going away mid-query does, and release the lock."""
    with psycopg.connect(dsn) as holder:
        holder.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            row = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchone()
            if row:
                holder.execute("SELECT pg_terminate_backend(%s)", row)
                break
            time.sleep(0.05)
        holder.rollback()


def request_while_the_database_goes_away(job, send):
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT']} user={settings['USER']} dbname={settings['NAME']}"
    started = threading.Event()
    killer = threading.Thread(target=kill_the_request_once_it_waits, args=(dsn, CronJob._meta.db_table, started))
    killer.start()
    started.wait(10)
    try:
        return send()
    finally:
        killer.join(30)
        connection.close()  # the test's own session was the one ended; the next query reconnects


def assert_unavailable(response) -> str:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert list(response.json()) == ["detail"]
    return response.json()["detail"]


def test_a_write_cut_off_says_to_read_back_and_changes_nothing(transactional_db, api, job):
    response = request_while_the_database_goes_away(job, lambda: api.delete(f"/api/cron/jobs/{job.job_id}"))

    detail = assert_unavailable(response)
    assert "may or may not have been saved" in detail
    assert CronJob.objects.filter(pk=job.pk, periodic_task__isnull=False).exists()
    assert api.get(f"/api/cron/jobs/{job.job_id}").status_code == 200


def test_a_read_cut_off_says_to_try_again(transactional_db, api, job):
    response = request_while_the_database_goes_away(job, lambda: api.get(f"/api/cron/jobs/{job.job_id}"))

    assert assert_unavailable(response) == "The database is unavailable; try again in a few seconds"
