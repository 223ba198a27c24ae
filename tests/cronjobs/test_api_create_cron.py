"""POST /api/cron/jobs/cron: the spec's success body, the beat row behind the job, and refusals."""

import json
from datetime import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from cronjobs.models import CronJob
from tests.conftest import external_token
from vingine.celery import app as celery_app

from .helpers import (
    CRON_BODY,
    SPEC_CRON_JOB,
    assert_cron_next_run,
    assert_refused,
    db_snapshot,
    post_cron,
    spec_fields,
)

pytestmark = pytest.mark.django_db


def test_it_creates_a_cron_job_with_the_spec_body(api, workflow):
    before = timezone.now()
    response = post_cron(api)
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "message", "job"}
    assert body["status"] == "success"
    assert body["message"] == "Cron job daily-video-generation created successfully"
    job = spec_fields(body["job"])
    assert_cron_next_run(job.pop("next_run_time"), "0 9 * * *", "UTC", before, after)
    assert job == SPEC_CRON_JOB


def test_it_shows_next_run_time_as_iso_8601_with_a_utc_offset(api, workflow):
    response = post_cron(api)

    next_run_time = response.json()["job"]["next_run_time"]
    parsed = datetime.fromisoformat(next_run_time)
    assert next_run_time.endswith("T09:00:00+00:00")
    assert parsed > timezone.now()


def test_it_accepts_a_trailing_slash(api, workflow):
    response = api.post("/api/cron/jobs/cron/", CRON_BODY, format="json")

    assert response.status_code == 200
    assert response.json()["job"]["job_id"] == "daily-video-generation"


def test_it_defaults_user_id_to_the_caller(api, workflow):
    body = {key: value for key, value in CRON_BODY.items() if key != "user_id"}

    response = api.post("/api/cron/jobs/cron", body, format="json")

    assert response.status_code == 200
    assert response.json()["job"]["user_id"] == "alice-uuid"
    assert CronJob.objects.get(job_id="daily-video-generation").owner.username == "alice-uuid"


def test_it_defaults_input_to_empty(api, workflow):
    body = {key: value for key, value in CRON_BODY.items() if key != "input"}

    response = api.post("/api/cron/jobs/cron", body, format="json")

    assert response.status_code == 200
    assert response.json()["job"]["input_text"] == ""


def test_it_keeps_the_input_exactly_as_sent(api, workflow):
    text = "  Video über 🎬 news\n\twith spaces  "

    response = post_cron(api, input=text)

    assert response.json()["job"]["input_text"] == text
    assert CronJob.objects.get(job_id="daily-video-generation").input_text == text


def test_it_writes_the_periodic_task_beat_reads(api, workflow):
    post_cron(api)

    job = CronJob.objects.select_related("periodic_task__crontab").get(job_id="daily-video-generation")
    task = job.periodic_task
    assert task.enabled is True
    assert json.loads(task.kwargs) == {"job_id": "daily-video-generation"}
    celery_app.loader.import_default_modules()  # what a worker does at start
    assert task.task in celery_app.tasks  # a task name a worker can run
    assert task.interval is None
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == (
        "0",
        "9",
        "*",
        "*",
        "*",
    )
    assert str(crontab.timezone) == "UTC"


def test_it_tells_the_stock_scheduler_that_the_schedule_changed(api, workflow, stock_scheduler):
    before = PeriodicTasks.last_change()

    post_cron(api)

    changed = PeriodicTasks.last_change()
    assert changed is not None
    assert before is None or changed > before


def test_it_accepts_a_supabase_style_token_and_names_the_owner_by_its_sub(client_for, make_user, make_workflow):
    owner = make_user("6f1c2d3e-0000-4000-8000-000000000001")
    make_workflow(owner, "supabase-workflow")
    client = client_for(token=external_token(owner.username))
    response = post_cron(client, workflow_id="supabase-workflow", user_id=owner.username)

    assert response.status_code == 200, response.json()
    job = response.json()["job"]
    assert job["user_id"] == owner.username
    assert job["name"] == f"Workflow supabase-workflow for user {owner.username}"


# --- time zones ------------------------------------------------------------------------------


def test_it_schedules_in_utc_by_default(api, workflow):
    response = post_cron(api)

    assert response.json()["job"]["timezone"] == "UTC"
    assert CronJob.objects.get(job_id="daily-video-generation").timezone == "UTC"


def test_it_schedules_in_the_jobs_own_time_zone(api, workflow):
    before = timezone.now()
    response = post_cron(api, timezone="Asia/Kolkata")
    after = timezone.now()

    assert response.status_code == 200
    job = response.json()["job"]
    assert job["timezone"] == "Asia/Kolkata"
    # 9 AM in Kolkata, shown with Kolkata's offset (+05:30, no daylight saving time there).
    assert job["next_run_time"].endswith("T09:00:00+05:30")
    assert_cron_next_run(job["next_run_time"], "0 9 * * *", "Asia/Kolkata", before, after)
    task = PeriodicTask.objects.get(cronjob__job_id="daily-video-generation")
    assert str(task.crontab.timezone) == "Asia/Kolkata"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "Factory", "utc "])
def test_it_refuses_an_unknown_time_zone(api, workflow, zone):
    before = db_snapshot()

    response = post_cron(api, timezone=zone)

    assert_refused(response, 400)
    assert "timezone" in response.json()["detail"].lower()
    assert db_snapshot() == before


# --- the spec's errors -----------------------------------------------------------------------


def test_it_refuses_a_two_field_cron_expression_with_the_spec_text(api, workflow):
    before = db_snapshot()

    response = post_cron(api, cron_expression="0 9")

    assert_refused(response, 400, "Invalid cron expression: 0 9. Expected 5 parts (minute hour day month day_of_week)")
    assert db_snapshot() == before


def test_it_refuses_a_six_field_cron_expression(api, workflow):
    # The spec's own example of a bad schedule: seconds-level cron is not cron.
    before = db_snapshot()

    response = post_cron(api, cron_expression="* * * * * *")

    assert_refused(
        response, 400, "Invalid cron expression: * * * * * *. Expected 5 parts (minute hour day month day_of_week)"
    )
    assert db_snapshot() == before


def test_it_refuses_a_user_id_other_than_the_callers(api, workflow, bob):
    before = db_snapshot()

    response = post_cron(api, user_id="bob-uuid")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


def test_it_refuses_a_workflow_owned_by_another_user(api, workflow, bob_workflow):
    before = db_snapshot()

    response = post_cron(api, workflow_id="bob-workflow")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


def test_it_answers_404_for_a_workflow_that_does_not_exist(api, workflow):
    before = db_snapshot()

    response = post_cron(api, workflow_id="no-such-workflow")

    assert_refused(response, 404, "Workflow no-such-workflow not found")
    assert db_snapshot() == before


def test_it_refuses_a_job_id_taken_by_an_operators_periodic_task(api, workflow):
    every_day, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.DAYS)
    PeriodicTask.objects.create(name="nightly-cleanup", task="cronjobs.tasks.fire_job", interval=every_day)
    before = db_snapshot()

    response = post_cron(api, job_id="nightly-cleanup")

    assert 400 <= response.status_code < 500
    assert_refused(response, response.status_code)
    assert "nightly-cleanup" in response.json()["detail"]
    assert db_snapshot() == before
