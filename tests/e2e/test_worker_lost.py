"""A worker killed outright (kill -9 of the whole worker: its main process says nothing) while a
run is on it: the reaper fails the run as lost once the worker's heartbeat has gone quiet, long
before the run's time limit, and the run is never started again."""

import os
import signal
import time

import pytest

from tests.webhooks import Reply
from workflows.maintenance import runs_reap_lost
from workflows.models import Run
from workflows.runs import run_enqueue

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e

LOST_AFTER = 10  # seconds, the least WORKER_LOST_AFTER_SECONDS allows


def test_a_worker_killed_outright_has_its_running_run_failed_as_lost(
    transactional_db, celery_env, tmp_path, alice, make_workflow, webhook, settings
):
    settings.WORKER_LOST_AFTER_SECONDS = LOST_AFTER
    worker = start_worker(celery_env, tmp_path, concurrency=1, WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1")
    try:
        steps = [
            {"type": "http", "url": webhook.url("/started")},
            {"type": "python", "callable": "sleep", "seconds": 120},
        ]
        webhook.script("/started", Reply(200))
        run = run_enqueue(
            workflow=make_workflow(alice, "e2e-lost", steps=steps),
            owner=alice,
            trigger=Run.Trigger.MANUAL,
            input_text="",
        )
        wait_until(lambda: webhook.hits("/started"), timeout=30, what="the run's first step", watch=(worker,))
        run.refresh_from_db()
        hostname = next(arg.split("=", 1)[1] for arg in worker.args if arg.startswith("--hostname="))
        assert run.status == Run.Status.RUNNING and run.worker.startswith(f"{hostname}/")

        # Heartbeats still fresh: the run is left alone.
        assert runs_reap_lost() == 0
        os.killpg(worker.popen.pid, signal.SIGKILL)
        worker.popen.wait(10)
        killed_at = time.monotonic()

        wait_until(lambda: runs_reap_lost(), timeout=LOST_AFTER + 20, what="the reaper to fail the run")
        took = time.monotonic() - killed_at
    finally:
        worker.stop()

    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.LOST)
    assert "stopped sending heartbeats" in run.error
    # Not before the heartbeat could have expired, and far sooner than the run's time limit.
    assert LOST_AFTER - 6 <= took < settings.WORKFLOW_RUN_TIME_LIMIT
    assert len(webhook.hits("/started")) == 1
