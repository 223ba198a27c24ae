"""POST /api/cron/jobs/interval: the spec's success body, the first slot, and the interval limits."""

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule

from cronjobs.models import CronJob

from .helpers import (
    INTERVAL_BODY,
    SPEC_INTERVAL_JOB,
    assert_interval_next_run,
    assert_refused,
    db_snapshot,
    post_interval,
    spec_fields,
)

pytestmark = pytest.mark.django_db


def test_it_creates_an_interval_job_with_the_spec_body(api, workflow):
    before = timezone.now()
    response = post_interval(api)
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "message", "job"}
    assert body["status"] == "success"
    assert body["message"] == "Interval job hourly-video-check created successfully"
    job = spec_fields(body["job"])
    assert_interval_next_run(job.pop("next_run_time"), timedelta(hours=1, minutes=30), before, after)
    assert job == SPEC_INTERVAL_JOB


def test_it_accepts_a_trailing_slash(api, workflow):
    response = api.post("/api/cron/jobs/interval/", INTERVAL_BODY, format="json")

    assert response.status_code == 200
    assert response.json()["job"]["job_id"] == "hourly-video-check"


def test_it_runs_first_one_interval_after_creation(api, workflow):
    response = post_interval(api)

    job = CronJob.objects.get(job_id="hourly-video-check")
    next_run = datetime.fromisoformat(response.json()["job"]["next_run_time"])
    # Slots are anchor + k * interval, and the anchor is the creation instant in whole seconds.
    assert abs(job.anchor - job.created_at) < timedelta(seconds=1)
    assert job.anchor.microsecond == 0
    assert next_run == job.anchor + timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("hours", "minutes", "seconds", "schedule", "trigger"),
    [
        (0, 0, 45, "45s", "interval[0:00:45]"),
        (2, 0, 0, "2h", "interval[2:00:00]"),
        (0, 90, 0, "1h 30m", "interval[1:30:00]"),
        (1, 0, 5, "1h 5s", "interval[1:00:05]"),
        (25, 0, 0, "25h", "interval[1 day, 1:00:00]"),
    ],
)
def test_it_describes_the_interval(api, workflow, hours, minutes, seconds, schedule, trigger):
    response = post_interval(api, hours=hours, minutes=minutes, seconds=seconds)

    assert response.status_code == 200, response.json()
    job = response.json()["job"]
    assert (job["schedule"], job["trigger"]) == (schedule, trigger)


def test_it_treats_missing_units_as_zero(api, workflow):
    body = {key: value for key, value in INTERVAL_BODY.items() if key not in ("hours", "seconds")}
    body["minutes"] = 15

    response = api.post("/api/cron/jobs/interval", body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["job"]["schedule"] == "15m"
    assert CronJob.objects.get(job_id="hourly-video-check").interval_seconds == 15 * 60


def test_it_writes_the_periodic_task_beat_reads(api, workflow):
    post_interval(api)

    job = CronJob.objects.select_related("periodic_task__interval").get(job_id="hourly-video-check")
    task = job.periodic_task
    assert task.enabled is True
    assert json.loads(task.kwargs) == {"job_id": "hourly-video-check"}
    assert task.crontab is None
    assert (task.interval.every, task.interval.period) == (90 * 60, IntervalSchedule.SECONDS)
    # Beat counts the first slot from last_run_at: the creation instant.
    assert task.last_run_at == job.anchor


def test_it_shows_next_run_time_in_the_jobs_time_zone(api, workflow):
    response = post_interval(api, timezone="Asia/Kolkata")

    assert response.status_code == 200
    job = response.json()["job"]
    assert job["timezone"] == "Asia/Kolkata"
    assert job["next_run_time"].endswith("+05:30")


def test_it_refuses_an_unknown_time_zone(api, workflow):
    before = db_snapshot()

    response = post_interval(api, timezone="Not/AZone")

    assert_refused(response, 400)
    assert "Not/AZone" in response.json()["detail"]
    assert db_snapshot() == before


def test_it_refuses_an_all_zero_interval(api, workflow):
    before = db_snapshot()

    response = post_interval(api, hours=0, minutes=0, seconds=0)

    assert_refused(response, 400, "At least one of hours, minutes or seconds must be greater than 0")
    assert db_snapshot() == before


def test_it_refuses_an_interval_without_any_unit(api, workflow):
    body = {key: value for key, value in INTERVAL_BODY.items() if key not in ("hours", "minutes", "seconds")}
    before = db_snapshot()

    response = api.post("/api/cron/jobs/interval", body, format="json")

    assert_refused(response, 400, "At least one of hours, minutes or seconds must be greater than 0")
    assert db_snapshot() == before


def test_it_refuses_an_interval_below_the_configured_minimum(api, workflow, settings):
    settings.CRON_MIN_INTERVAL_SECONDS = 60
    before = db_snapshot()

    response = post_interval(api, hours=0, minutes=0, seconds=59)

    assert_refused(response, 400)
    assert "60 seconds" in response.json()["detail"]
    assert db_snapshot() == before


def test_it_accepts_an_interval_of_exactly_the_configured_minimum(api, workflow, settings):
    settings.CRON_MIN_INTERVAL_SECONDS = 60

    response = post_interval(api, hours=0, minutes=1, seconds=0)

    assert response.status_code == 200, response.json()
    assert response.json()["job"]["schedule"] == "1m"


def test_it_refuses_the_default_minimum_minus_one_second(api, workflow):
    before = db_snapshot()

    response = post_interval(api, hours=0, minutes=0, seconds=9)

    assert_refused(response, 400)
    assert "10 seconds" in response.json()["detail"]
    assert db_snapshot() == before


@pytest.mark.parametrize("field", ["hours", "minutes", "seconds"])
def test_it_refuses_a_negative_unit(api, workflow, field):
    before = db_snapshot()

    response = post_interval(api, **{field: -1})

    assert_refused(response, 400)
    assert field in response.json()["detail"]
    assert db_snapshot() == before


def test_it_refuses_an_interval_longer_than_a_year(api, workflow):
    before = db_snapshot()

    response = post_interval(api, hours=367 * 24, minutes=0)

    assert_refused(response, 400)
    assert "366 days" in response.json()["detail"]
    assert db_snapshot() == before


def test_it_refuses_an_astronomically_large_interval(api, workflow):
    before = db_snapshot()

    response = post_interval(api, hours=10**30)

    assert_refused(response, 400)
    assert db_snapshot() == before


def test_it_answers_404_for_a_workflow_that_does_not_exist(api, workflow):
    before = db_snapshot()

    response = post_interval(api, workflow_id="no-such-workflow")

    assert_refused(response, 404, "Workflow no-such-workflow not found")
    assert db_snapshot() == before


def test_it_refuses_a_workflow_owned_by_another_user(api, workflow, bob_workflow):
    before = db_snapshot()

    response = post_interval(api, workflow_id="bob-workflow")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before
