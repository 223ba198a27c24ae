"""Backfill, cancelling a job's runs, pausing after consecutive failures, and Idempotency-Key on the
requests that start runs."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from cronjobs import services
from cronjobs.claims import claim_due_jobs
from cronjobs.models import CronJob
from workflows import dispatch
from workflows.models import IdempotentRequest, Run
from workflows.runs import run_enqueue

from .helpers import db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def hourly(api, workflow) -> CronJob:
    """Alice's job at minute 15 of every hour, in UTC."""
    response = post_cron(api, cron_expression="15 * * * *")
    assert response.status_code == 200, response.json()
    return CronJob.objects.get(job_id="daily-video-generation")


def backfill(client, job: CronJob, start: datetime, end: datetime, **headers):
    return client.post(
        f"/api/cron/jobs/{job.job_id}/backfill", {"start": iso(start), "end": iso(end)}, format="json", **headers
    )


def this_hour() -> datetime:
    return timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- backfill --------------------------------------------------------------------------------------


def test_a_backfill_records_one_waiting_run_per_past_slot_and_hands_over_the_oldest(api, hourly, broker):
    start = this_hour() - 5 * HOUR

    response = backfill(api, hourly, start, start + 3 * HOUR)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["runs_created"], body["slots_already_run"]) == (3, 0)
    runs = list(Run.objects.filter(job=hourly).order_by("scheduled_for"))
    assert [run.scheduled_for for run in runs] == [start + timedelta(minutes=15) + n * HOUR for n in range(3)]
    assert [str(run.id) for run in runs] == body["run_ids"]
    assert {(run.trigger, run.status, run.input_text) for run in runs} == {
        ("backfill", "queued", "Generate video about tech news")
    }
    # overlap skip: one at a time, the oldest first (its turn comes when the request commits).
    assert dispatch.backfill_release([hourly.pk]) == 1
    assert dispatch.backfill_release([hourly.pk]) == 0
    waiting = [run.wait_reason for run in Run.objects.filter(job=hourly).order_by("scheduled_for")]
    assert waiting == ["", "backfill", "backfill"]


def test_under_overlap_allow_a_backfill_runs_a_few_at_a_time(api, workflow, broker, settings):
    settings.BACKFILL_MAX_CONCURRENT = 2
    assert post_cron(api, cron_expression="15 * * * *", overlap="allow").status_code == 200
    job = CronJob.objects.get()
    start = this_hour() - 5 * HOUR
    assert backfill(api, job, start, start + 4 * HOUR).json()["runs_created"] == 4

    assert dispatch.backfill_release([job.pk]) == 2
    assert dispatch.backfill_release([job.pk]) == 0


def test_a_slot_that_already_ran_is_not_run_again_but_a_skipped_one_is(api, hourly, broker):
    start = this_hour() - 4 * HOUR
    slots = [start + timedelta(minutes=15) + n * HOUR for n in range(3)]
    common = {"workflow": hourly.workflow, "owner": hourly.owner, "job": hourly, "trigger": "schedule"}
    Run.objects.create(**common, scheduled_for=slots[0], status="succeeded")
    Run.objects.create(**common, scheduled_for=slots[1], status="skipped", reason="missed")

    body = backfill(api, hourly, start, start + 3 * HOUR).json()

    assert (body["runs_created"], body["slots_already_run"]) == (2, 1)
    backfilled = Run.objects.filter(job=hourly, trigger="backfill").order_by("scheduled_for")
    assert list(backfilled.values_list("scheduled_for", flat=True)) == slots[1:]


def test_a_backfill_over_the_cap_is_refused_and_records_nothing(api, workflow, broker):
    assert post_cron(api, cron_expression="* * * * *").status_code == 200
    job = CronJob.objects.get()
    end = this_hour()
    before = db_snapshot()

    response = backfill(api, job, end - timedelta(minutes=1000), end)  # 1,001 minutes, both ends included

    assert response.status_code == 400
    assert "more than 1000 slots" in response.json()["detail"]
    assert db_snapshot() == before
    assert backfill(api, job, end - timedelta(minutes=999), end).json()["runs_created"] == 1000


@pytest.mark.parametrize(
    ("start", "end", "detail"),
    [
        (-HOUR, HOUR, "end must not be in the future"),
        (-HOUR, -2 * HOUR, "start must not be after end"),
    ],
)
def test_a_backfill_range_that_is_not_past_is_refused(api, hourly, start, end, detail):
    now = timezone.now()
    before = db_snapshot()

    response = backfill(api, hourly, now + start, now + end)

    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert db_snapshot() == before


@pytest.mark.parametrize("body", [{}, {"start": "yesterday", "end": "today"}, {"start": 1, "end": 2}])
def test_a_backfill_body_without_two_times_is_refused(api, hourly, body):
    response = api.post(f"/api/cron/jobs/{hourly.job_id}/backfill", body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Run.objects.exists()


def test_backfill_runs_do_not_block_the_schedule_while_they_wait(api, hourly, broker):
    start = this_hour() - 5 * HOUR
    backfill(api, hourly, start, start + 3 * HOUR)

    # A waiting backfill run is not the job's run "still queued" (overlap skip): the next slot runs.
    hourly.next_fire_at = timezone.now() - timedelta(seconds=1)
    hourly.save(update_fields=["next_fire_at"])
    claim_due_jobs(timezone.now())
    scheduled = Run.objects.get(job=hourly, trigger="schedule")
    assert (scheduled.status, scheduled.reason) == (Run.Status.QUEUED, "")


# --- cancelling a job's runs -----------------------------------------------------------------------


def test_cancelling_a_jobs_runs_ends_every_queued_one_and_no_other(api, cron_job, broker, settings):
    settings.RUN_MAX_CONCURRENT_PER_USER = 2
    runs = [
        run_enqueue(workflow=cron_job.workflow, owner=cron_job.owner, job=cron_job, trigger="manual", input_text="")
        for _ in range(3)
    ]
    outside = run_enqueue(workflow=cron_job.workflow, owner=cron_job.owner, trigger="manual", input_text="")

    response = api.post(f"/api/cron/jobs/{cron_job.job_id}/runs/cancel")

    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("cancelled", "stopping")} == {"cancelled": 3, "stopping": 0}
    assert set(Run.objects.filter(id__in=[run.id for run in runs]).values_list("status", flat=True)) == {"cancelled"}
    outside.refresh_from_db()
    assert outside.status == Run.Status.QUEUED


def test_another_users_job_runs_cannot_be_cancelled_or_backfilled(bob_api, cron_job, broker):
    run = run_enqueue(workflow=cron_job.workflow, owner=cron_job.owner, job=cron_job, trigger="manual", input_text="")
    before = db_snapshot()

    cancel = bob_api.post(f"/api/cron/jobs/{cron_job.job_id}/runs/cancel")
    start = this_hour() - 3 * HOUR
    filled = backfill(bob_api, cron_job, start, start + HOUR)

    assert (cancel.status_code, filled.status_code) == (403, 403)
    assert filled.json()["detail"] == "You don't have permission to backfill this job"
    assert db_snapshot() == before
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED


# --- pause after consecutive failures ---------------------------------------------------------------


def record(job: CronJob, status: str, error: str = "") -> Run:
    return Run.objects.create(
        workflow=job.workflow,
        owner=job.owner,
        job=job,
        trigger="schedule",
        status=status,
        error=error,
        scheduled_for=timezone.now() - timedelta(seconds=Run.objects.count() + 1),
        finished_at=timezone.now(),
    )


def test_a_job_pauses_after_its_number_of_consecutive_failures(api, workflow):
    assert post_interval(api, seconds=30, pause_after_failures=2).status_code == 200
    job = CronJob.objects.get()
    record(job, "failed", "boom")
    assert services.job_pause_after_failures(job_pk=job.pk) is False
    newest = record(job, "failed", "steps[0] (http) failed: 500")

    assert services.job_pause_after_failures(job_pk=job.pk) is True

    shown = api.get(f"/api/cron/jobs/{job.job_id}").json()["job"]
    assert (shown["paused"], shown["next_run_time"], shown["pause_after_failures"]) == (True, None, 2)
    assert shown["pause_reason"] == (
        f"Paused after 2 consecutive failed runs; the last, run {newest.id}, failed: steps[0] (http) failed: 500"
    )
    assert shown["paused_at"] is not None
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled is False
    # Safe to run twice.
    assert services.job_pause_after_failures(job_pk=job.pk) is False

    assert api.post(f"/api/cron/jobs/{job.job_id}/resume").status_code == 200
    shown = api.get(f"/api/cron/jobs/{job.job_id}").json()["job"]
    assert (shown["paused"], shown["pause_reason"], shown["paused_at"]) == (False, None, None)


def test_a_success_in_between_or_the_option_at_zero_keeps_the_job_running(api, workflow):
    assert post_interval(api, seconds=30, pause_after_failures=2).status_code == 200
    job = CronJob.objects.get()
    record(job, "failed")
    record(job, "succeeded")
    record(job, "failed")
    assert services.job_pause_after_failures(job_pk=job.pk) is False

    assert post_interval(api, seconds=30).status_code == 200  # replaced: the option back to 0
    record(job, "failed")
    assert services.job_pause_after_failures(job_pk=job.pk) is False
    assert CronJob.objects.get(pk=job.pk).paused is False


def test_a_person_pausing_shows_no_reason(api, cron_job):
    api.post(f"/api/cron/jobs/{cron_job.job_id}/pause")

    shown = api.get(f"/api/cron/jobs/{cron_job.job_id}").json()["job"]
    assert (shown["paused"], shown["pause_reason"]) == (True, None)
    assert shown["paused_at"] is not None


@pytest.mark.parametrize("value", [-1, 1001, "3", True])
def test_pause_after_failures_out_of_range_is_refused(api, workflow, value):
    response = post_cron(api, pause_after_failures=value)

    assert response.status_code == 400
    assert "pause_after_failures" in response.json()["detail"]
    assert not CronJob.objects.exists()


def test_the_admin_lists_jobs_that_paused_themselves(admin_client, api, workflow):
    assert post_interval(api, seconds=30, pause_after_failures=1).status_code == 200
    assert post_cron(api, job_id="paused-by-hand").status_code == 200
    api.post("/api/cron/jobs/paused-by-hand/pause")
    job = CronJob.objects.get(job_id="hourly-video-check")
    record(job, "failed")
    services.job_pause_after_failures(job_pk=job.pk)

    page = admin_client.get("/admin/cronjobs/cronjob/?paused_after_failures=yes").content.decode()

    assert "hourly-video-check" in page and "paused-by-hand" not in page


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_the_same_key_gets_the_first_answer_and_starts_nothing_new(api, cron_job, broker):
    first = api.post(f"/api/cron/jobs/{cron_job.job_id}/trigger", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(f"/api/cron/jobs/{cron_job.job_id}/trigger", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert Run.objects.filter(job=cron_job).count() == 1
    other = api.post(f"/api/cron/jobs/{cron_job.job_id}/trigger", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.json()["run_id"] != first.json()["run_id"]


def test_the_same_key_with_another_request_is_a_409(api, workflow, broker):
    url = f"/api/workflows/{workflow.workflow_id}/run"
    assert api.post(url, {"input": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 200

    response = api.post(url, {"input": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert "was used for a different request" in response.json()["detail"]
    assert Run.objects.count() == 1


def test_keys_are_each_users_own_and_expire(api, bob_api, workflow, bob_workflow, broker, settings):
    mine = api.post(f"/api/workflows/{workflow.workflow_id}/run", HTTP_IDEMPOTENCY_KEY="same")
    theirs = bob_api.post(f"/api/workflows/{bob_workflow.workflow_id}/run", HTTP_IDEMPOTENCY_KEY="same")
    assert mine.json()["run"]["run_id"] != theirs.json()["run"]["run_id"]

    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS + 1))
    later = api.post(f"/api/workflows/{workflow.workflow_id}/run", HTTP_IDEMPOTENCY_KEY="same")
    assert later.json()["run"]["run_id"] != mine.json()["run"]["run_id"]
    assert Run.objects.count() == 3


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_a_key_that_is_not_printable_ascii_is_refused(api, cron_job, key):
    response = api.post(f"/api/cron/jobs/{cron_job.job_id}/trigger", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key must be 1 to 255 printable ASCII characters" in response.json()["detail"]
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_start_one_run(client_for, alice, make_workflow, broker):
    workflow = make_workflow(alice, "concurrent")
    answers, barrier = [], threading.Barrier(8)

    def request() -> None:
        try:
            barrier.wait()
            response = client_for(alice).post(f"/api/workflows/{workflow.workflow_id}/run", HTTP_IDEMPOTENCY_KEY="once")
            answers.append((response.status_code, response.json()["run"]["run_id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 8
    assert {status for status, _ in answers} == {200}
    assert len({run_id for _, run_id in answers}) == 1
    assert Run.objects.count() == 1
