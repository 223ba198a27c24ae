"""Webhook workflows on real celery processes: run on a schedule by beat, and a worker process
killed mid-run. The workflow calls a real HTTP server of the test on 127.0.0.1."""

import json
import os
import signal
import uuid

import pytest

from cronjobs import schedules
from cronjobs import services as cron
from tests.webhooks import Reply
from workflows.models import Run
from workflows.runs import run_enqueue

from .conftest import child_pids, start_worker, wait_until

pytestmark = pytest.mark.e2e

RUN_DEADLINE = 30.0  # seconds


# Each worker lives for its one test: two workers alive at once would share the queue, and the
# prefork test must be sure its own worker took the run it kills.
@pytest.fixture
def hook_worker(celery_env, tmp_path_factory):
    """A worker allowed to reach 127.0.0.1."""
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"), WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def prefork_worker(celery_env, tmp_path_factory):
    """One pool process on the prefork pool, so the process running a run is the one to kill."""
    process = start_worker(
        celery_env,
        tmp_path_factory.mktemp("worker"),
        pool="prefork",
        concurrency=1,
        WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1",
    )
    try:
        yield process
    finally:
        process.stop()


def test_a_scheduled_webhook_workflow_shows_each_step_and_attempt(
    transactional_db, hook_worker, beat, alice, make_workflow, webhook, client_for
):
    # The app's first answer is a 503 (it is warming up); every later one a 200.
    webhook.script("/render", Reply(503, "warming up"), Reply(200, {"video_id": "v-1"}))
    steps = [
        {"type": "template", "template": "Video about {{input}}"},
        {
            "type": "http",
            "method": "POST",
            "url": webhook.url("/render"),
            "headers": {"Authorization": "Bearer e2e-secret"},
            "body": {"title": "{{previous}}", "topic": "{{input}}"},
            "retries": 2,
            "timeout": 10,
        },
    ]
    workflow = make_workflow(alice, "e2e-webhook", steps=steps)
    job = cron.job_upsert(
        caller=alice,
        job_id=f"e2e-{uuid.uuid4().hex[:12]}",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="cats",
        spec=schedules.interval_spec(seconds=2),
    )

    succeeded = Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE, status=Run.Status.SUCCEEDED)
    wait_until(
        lambda: succeeded.count() >= 2,
        timeout=RUN_DEADLINE,
        what="two succeeded scheduled runs",
        watch=(hook_worker, beat),
    )
    cron.job_pause(user=alice, job_id=job.job_id)

    response = client_for(alice).get(f"/api/cron/jobs/{job.job_id}/runs")
    assert response.status_code == 200
    assert "e2e-secret" not in response.content.decode()
    first, second = sorted(
        (run for run in response.json()["runs"] if run["status"] == "succeeded"), key=lambda run: run["scheduled_for"]
    )[:2]
    template_step, http_step = first["steps"]
    assert (template_step["index"], template_step["type"], template_step["output"]) == (
        0,
        "template",
        "Video about cats",
    )
    assert [attempt["attempt"] for attempt in template_step["attempts"]] == [1]
    assert (http_step["index"], http_step["type"]) == (1, "http")
    assert [(a["attempt"], a["status_code"]) for a in http_step["attempts"]] == [(1, 503), (2, 200)]
    assert http_step["attempts"][0]["error"] == f"HTTP 503 from {webhook.url('/render')}: warming up"
    assert http_step["output"] == {"status_code": 200, "body": {"video_id": "v-1"}}
    assert first["output"] == {"status_code": 200, "body": {"video_id": "v-1"}}
    assert [(a["attempt"], a["status_code"]) for a in second["steps"][1]["attempts"]] == [(1, 200)]
    for step in (template_step, http_step):
        assert step["started_at"] <= step["finished_at"]
    received = webhook.hits("/render")
    assert all(r.json() == {"title": "Video about cats", "topic": "cats"} for r in received)
    assert all(r.headers["Authorization"] == "Bearer e2e-secret" for r in received)


def test_a_worker_process_killed_mid_run_leaves_the_run_lost_never_stuck_or_run_twice(
    transactional_db, prefork_worker, alice, make_workflow, webhook, settings
):
    steps = [
        {"type": "http", "url": webhook.url("/started"), "body": {"run": "{{input}}"}},
        {"type": "python", "callable": "sleep", "seconds": 60},
    ]
    workflow = make_workflow(alice, "e2e-killed", steps=steps)
    log_offset = prefork_worker.log_size()
    run = run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats")
    not_claimed = f"run {run.id} not claimed"

    wait_until(
        lambda: webhook.hits("/started"), timeout=RUN_DEADLINE, what="the run's first step", watch=(prefork_worker,)
    )
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING
    [pool_process] = child_pids(prefork_worker.popen.pid)
    os.kill(pool_process, signal.SIGKILL)

    # The worker's main process sees its pool process die under the run and records the run as
    # lost at once; the message is not handed out again.
    wait_until(
        lambda: Run.objects.get(pk=run.pk).status != Run.Status.RUNNING,
        timeout=RUN_DEADLINE,
        what="the run to end",
        watch=(prefork_worker,),
    )
    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.LOST)
    assert run.finished_at is not None
    assert len(webhook.hits("/started")) == 1  # the first step ran once, and only once
    assert "The process running this run died" in run.error
    [started] = webhook.hits("/started")
    assert json.loads(started.body) == {"run": "cats"}
    # The request says which run it belongs to: a receiver can deduplicate on it.
    assert started.headers["Idempotency-Key"] == started.headers["X-Vingine-Run-Id"] == str(run.id)
    assert started.headers["X-Vingine-Trigger"] == "manual"
    assert prefork_worker.running
    # Acknowledged, not handed out again: no delivery finds the run taken.
    assert not_claimed not in prefork_worker.log_text(log_offset)
