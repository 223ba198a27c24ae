"""Jobs and runs on real ``celery worker`` and ``celery beat`` processes, PostgreSQL and Redis."""

import time
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from cronjobs import schedules
from cronjobs import services as cron
from workflows.models import Run
from workflows.tasks import execute_run

from .conftest import wait_until

pytestmark = pytest.mark.e2e

RUN_DEADLINE = 20.0  # seconds
EXPECTED_OUTPUT = "Video about cats"  # the shared workflow's template applied to the input "cats"
FINISHED = (Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.SKIPPED)


def every_second_job(owner, workflow, overlap="allow"):
    # overlap "allow" by default: a run still queued behind a busy worker would otherwise turn the
    # next slot into a skipped run, and these tests count succeeded runs.
    return cron.job_upsert(
        caller=owner,
        job_id=f"e2e-{uuid.uuid4().hex[:12]}",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="cats",
        spec=schedules.interval_spec(seconds=1),
        overlap=overlap,
    )


def test_it_runs_a_one_second_interval_job(transactional_db, worker, beat, alice, workflow):
    job = every_second_job(alice, workflow)

    succeeded = Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE, status=Run.Status.SUCCEEDED)
    wait_until(
        lambda: succeeded.count() >= 3,
        timeout=RUN_DEADLINE,
        what="three succeeded scheduled runs",
        watch=(worker, beat),
    )

    runs = list(succeeded)
    for run in runs:
        assert run.output == EXPECTED_OUTPUT
        assert run.input_text == "cats"
        assert run.error == ""
        assert run.workflow_id == workflow.pk and run.owner_id == alice.pk
        assert run.scheduled_for is not None
        assert run.started_at is not None and run.finished_at is not None
        assert run.scheduled_for <= run.started_at <= run.finished_at
    assert len({run.scheduled_for for run in runs}) == len(runs)
    # Each run belongs to a slot of the job's grid (created + k * 1 s), and no slot between the
    # first and the last was lost: the scheduler, not the worker's clock, decides the slot.
    job.refresh_from_db()
    offsets = sorted((run.scheduled_for - job.anchor).total_seconds() for run in runs)
    assert all(offset >= 1 and offset == int(offset) for offset in offsets), offsets
    assert offsets == list(range(int(offsets[0]), int(offsets[0]) + len(offsets))), offsets
    assert not Run.objects.filter(job=job, status=Run.Status.FAILED).exists()


def test_it_stops_running_a_paused_job(transactional_db, worker, beat, alice, workflow):
    job = every_second_job(alice, workflow)
    scheduled = Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE)
    wait_until(lambda: scheduled.exists(), timeout=RUN_DEADLINE, what="a first scheduled run", watch=(worker, beat))

    cron.job_pause(user=alice, job_id=job.job_id)
    # A fire message beat sent just before it saw the pause may still be in flight.
    time.sleep(2)
    while_paused = scheduled.count()
    time.sleep(4)
    assert scheduled.count() == while_paused, "a paused job got new scheduled runs"

    resumed_at = timezone.now()
    cron.job_resume(user=alice, job_id=job.job_id)
    wait_until(
        lambda: scheduled.filter(created_at__gt=resumed_at, status=Run.Status.SUCCEEDED).exists(),
        timeout=RUN_DEADLINE,
        what="a succeeded scheduled run after resuming",
        watch=(worker, beat),
    )


def test_it_runs_a_manual_trigger(transactional_db, worker, alice, workflow, client_for):
    api = client_for(alice)
    job_id = f"e2e-{uuid.uuid4().hex[:12]}"
    created = api.post(
        "/api/cron/jobs/interval",
        {"job_id": job_id, "workflow_id": workflow.workflow_id, "user_id": alice.username, "input": "cats", "hours": 1},
        format="json",
    )
    assert created.status_code == 200, created.json()

    response = api.post(f"/api/cron/jobs/{job_id}/trigger")

    assert response.status_code == 200, response.json()
    assert response.json()["message"] == f"Job {job_id} triggered successfully"
    run_id = response.json()["run_id"]
    run = wait_until(
        lambda: Run.objects.filter(id=run_id, status__in=FINISHED).first(),
        timeout=RUN_DEADLINE,
        what="the triggered run to finish",
        watch=(worker,),
    )
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.trigger == Run.Trigger.MANUAL
    assert run.job.job_id == job_id
    assert run.output == EXPECTED_OUTPUT
    assert run.started_at is not None and run.finished_at is not None
    # No beat is running: the manual run is the job's only run.
    assert Run.objects.filter(job__job_id=job_id).count() == 1


def test_health_is_green_with_beat_and_worker_up(transactional_db, worker, beat):
    response = wait_until(
        lambda: (reply := Client().get("/health")).status_code == 200 and reply,
        timeout=RUN_DEADLINE,
        what="GET /health to answer 200",
        watch=(worker, beat),
    )

    body = response.json()
    assert body["status"] == "healthy"
    assert body["scheduler_running"] is True
    assert {name: body[name] for name in ("database", "broker", "beat", "worker")} == {
        "database": "up",
        "broker": "up",
        "beat": "up",
        "worker": "up",
    }


def test_a_redelivered_run_message_runs_once(transactional_db, worker, alice, make_workflow):
    # The sleep keeps the first delivery running while the second one arrives at the other pool process.
    steps = [
        {"type": "template", "template": "Video about {{input}}"},
        {"type": "python", "callable": "sleep", "seconds": 1.5},
        {"type": "python", "callable": "echo"},
    ]
    workflow = make_workflow(alice, "e2e-slow-workflow", steps=steps)
    run = Run.objects.create(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats")
    log_offset = worker.log_size()

    execute_run.delay(str(run.id))
    execute_run.delay(str(run.id))

    started_at = wait_until(
        lambda: Run.objects.filter(id=run.id).values_list("started_at", flat=True).first(),
        timeout=RUN_DEADLINE,
        what="the run to start",
        watch=(worker,),
    )
    refused = f"run {run.id} not claimed"
    wait_until(
        lambda: refused in worker.log_text(log_offset),
        timeout=RUN_DEADLINE,
        what="the worker to refuse the second delivery",
        watch=(worker,),
    )
    run = wait_until(
        lambda: Run.objects.filter(id=run.id, status__in=FINISHED).first(),
        timeout=RUN_DEADLINE,
        what="the run to finish",
        watch=(worker,),
    )

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output == EXPECTED_OUTPUT
    assert run.started_at == started_at
    assert [step["index"] for step in run.steps] == [0, 1, 2]
    assert worker.log_text(log_offset).count(refused) == 1
    assert Run.objects.filter(workflow=workflow).count() == 1
