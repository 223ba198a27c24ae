"""Run control on real celery processes: cancelling a run a worker is running (its http call dropped,
nothing run after it), rerun, a backfill across a DST change run oldest first one at a time, and a
job that pauses itself after consecutive failures."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs import services as cron
from cronjobs.models import CronJob
from tests.webhooks import Reply
from workflows.models import Run

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hook_worker(celery_env, tmp_path_factory):
    """A worker on the default (gevent) pool, allowed to reach the test's own server."""
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"), WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1")
    try:
        yield process
    finally:
        process.stop()


def _job(owner, workflow, spec, **options) -> CronJob:
    return cron.job_upsert(
        caller=owner,
        job_id=f"e2e-{uuid.uuid4().hex[:12]}",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="cats",
        spec=spec,
        **options,
    )


def test_cancelling_a_running_run_drops_its_http_call_and_runs_nothing_after(
    transactional_db, hook_worker, alice, make_workflow, webhook, client_for
):
    webhook.script("/slow", Reply(hold=60))
    steps = [
        {"type": "http", "method": "POST", "url": webhook.url("/slow"), "timeout": 60},
        {"type": "http", "method": "POST", "url": webhook.url("/after")},
    ]
    workflow = make_workflow(alice, "e2e-cancel", steps=steps)
    api = client_for(alice)
    run_id = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json").json()["run"][
        "run_id"
    ]
    wait_until(lambda: webhook.hits("/slow"), timeout=30, what="the slow call to arrive", watch=(hook_worker,))

    asked = time.monotonic()
    answer = api.post(f"/api/runs/{run_id}/cancel")
    assert answer.status_code == 200, answer.content
    assert answer.json()["run"]["cancelled_by"] == alice.username

    run = Run.objects.filter(id=run_id, status=Run.Status.CANCELLED)
    wait_until(run.exists, timeout=10, what="the run to end cancelled", watch=(hook_worker,))
    [call] = webhook.hits("/slow")
    assert call.dropped_at is not None, "the receiver never saw the connection dropped"
    assert call.dropped_at - asked < 3.0  # polled every 0.5 s: about a second
    time.sleep(1.0)
    assert webhook.hits("/after") == []
    run = run.get()
    assert run.cancelled_at is not None and run.finished_at is not None
    assert run.steps[0]["error"] == "stopped: the run was cancelled"
    assert len(run.steps) == 1
    assert "Cancelled during steps[0] (http)" in run.error

    again = api.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]


def test_a_rerun_runs_the_same_workflow_and_input_again(
    transactional_db, hook_worker, alice, make_workflow, client_for
):
    workflow = make_workflow(alice, "e2e-rerun", steps=[{"type": "template", "template": "Video about {{input}}"}])
    api = client_for(alice)
    first = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "dogs"}, format="json").json()["run"]
    done = Run.objects.filter(id=first["run_id"], status=Run.Status.SUCCEEDED)
    wait_until(done.exists, timeout=30, what="the first run", watch=(hook_worker,))

    answer = api.post(f"/api/runs/{first['run_id']}/rerun")
    assert answer.status_code == 200, answer.content
    again = answer.json()["run"]
    assert again["run_id"] != first["run_id"]
    assert (again["trigger"], again["rerun_of"], again["input_text"]) == ("rerun", first["run_id"], "dogs")
    rerun = Run.objects.filter(id=again["run_id"], status=Run.Status.SUCCEEDED)
    wait_until(rerun.exists, timeout=30, what="the rerun", watch=(hook_worker,))
    assert rerun.get().output == "Video about dogs"
    original = Run.objects.get(id=first["run_id"])
    assert (original.status, original.trigger, original.rerun_of_id) == (Run.Status.SUCCEEDED, "manual", None)


def test_a_backfill_across_a_dst_change_runs_each_slot_once_oldest_first_one_at_a_time(
    transactional_db, hook_worker, beat, alice, make_workflow, webhook, client_for
):
    # New York leaves summer time at 02:00 on Sunday 2026-11-01: 01:30 comes twice that night
    # (05:30 and 06:30 UTC) and runs once, at the first; on the days around it, 01:30 is 05:30 UTC
    # before the change and 06:30 UTC after it.
    webhook.script("/slot", Reply(delay=0.3))
    steps = [{"type": "http", "method": "POST", "url": webhook.url("/slot"), "body": {"run": "{{input}}"}}]
    workflow = make_workflow(alice, "e2e-backfill", steps=steps)
    job = _job(alice, workflow, schedules.cron_spec(expression="30 1 * * *", timezone_name="America/New_York"))
    api = client_for(alice)
    body = {"start": "2026-10-30T00:00:00-04:00", "end": "2026-11-03T00:00:00-05:00"}
    answer = api.post(f"/api/cron/jobs/{job.job_id}/backfill", body, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["runs_created"] == 4

    expected = [
        datetime(2026, 10, 30, 5, 30, tzinfo=UTC),
        datetime(2026, 10, 31, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
    ]
    runs = Run.objects.filter(job=job, trigger=Run.Trigger.BACKFILL)
    wait_until(
        lambda: runs.filter(status=Run.Status.SUCCEEDED).count() == 4,
        timeout=60,
        what="every backfill run to succeed",
        watch=(hook_worker, beat),
    )
    ran = list(runs.order_by("started_at"))
    assert [run.scheduled_for for run in ran] == expected
    for earlier, later in zip(ran, ran[1:], strict=False):
        assert later.started_at >= earlier.finished_at  # overlap skip: one at a time
    assert len(webhook.hits("/slot")) == 4

    # Backfilling the same range again finds every slot run.
    again = api.post(f"/api/cron/jobs/{job.job_id}/backfill", body, format="json").json()
    assert (again["runs_created"], again["slots_already_run"]) == (0, 4)


def test_a_job_pauses_itself_after_consecutive_failures(
    transactional_db, hook_worker, beat, alice, make_workflow, client_for
):
    workflow = make_workflow(alice, "e2e-failing", steps=[{"type": "python", "callable": "fail"}])
    job = _job(alice, workflow, schedules.interval_spec(seconds=1), pause_after_failures=3, overlap="allow")
    paused = CronJob.objects.filter(pk=job.pk, paused=True)
    wait_until(paused.exists, timeout=40, what="the job to pause itself", watch=(hook_worker, beat))

    shown = client_for(alice).get(f"/api/cron/jobs/{job.job_id}").json()["job"]
    assert shown["paused"] is True and shown["next_run_time"] is None
    assert shown["pause_reason"].startswith("Paused after 3 consecutive failed runs")
    assert shown["paused_at"] is not None
    failed = Run.objects.filter(job=job, status=Run.Status.FAILED).count()
    assert failed >= 3
    # No new slot fires once paused (a run already on its way may still end).
    time.sleep(3)
    settled = Run.objects.filter(job=job).count()
    time.sleep(3)
    assert Run.objects.filter(job=job).count() == settled

    resumed = client_for(alice).post(f"/api/cron/jobs/{job.job_id}/resume")
    assert resumed.status_code == 200
    job.refresh_from_db()
    assert (job.paused, job.pause_reason, job.paused_at) == (False, "", None)
    assert job.next_fire_at > timezone.now() - timedelta(seconds=1)
