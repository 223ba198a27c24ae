"""misfire_grace_seconds and overlap: accepted on create, shown on the job, refused with a 400 when bad."""

from datetime import datetime

import pytest

from cronjobs.models import CronJob

from .helpers import assert_refused, db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db


def test_a_job_has_the_default_grace_and_overlap_policy(api, workflow):
    job = post_cron(api).json()["job"]

    assert (job["misfire_grace_seconds"], job["overlap"]) == (60, "skip")


@pytest.mark.parametrize("post", [post_cron, post_interval])
def test_it_takes_grace_and_overlap_from_the_body(api, workflow, post):
    response = post(api, misfire_grace_seconds=300, overlap="allow")

    assert response.status_code == 200, response.json()
    job = response.json()["job"]
    assert (job["misfire_grace_seconds"], job["overlap"]) == (300, "allow")
    stored = CronJob.objects.get(job_id=job["job_id"])
    assert (stored.misfire_grace_seconds, stored.overlap) == (300, "allow")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("misfire_grace_seconds", 0, "misfire_grace_seconds"),
        ("misfire_grace_seconds", -5, "misfire_grace_seconds"),
        ("misfire_grace_seconds", 86401, "misfire_grace_seconds"),
        ("misfire_grace_seconds", "60", "misfire_grace_seconds"),
        ("misfire_grace_seconds", 1.5, "misfire_grace_seconds"),
        ("overlap", "sometimes", "overlap"),
        ("overlap", True, "overlap"),
        ("overlap", None, "overlap"),
    ],
)
def test_it_refuses_a_bad_value_and_changes_nothing(api, workflow, field, value, named):
    post_cron(api)
    before = db_snapshot()

    response = post_cron(api, **{field: value})

    assert_refused(response, 400)
    assert named in response.json()["detail"]
    assert db_snapshot() == before


def test_next_run_time_is_the_schedulers_next_fire_at(api, workflow):
    job = post_cron(api, timezone="Asia/Kolkata").json()["job"]

    stored = CronJob.objects.get(job_id=job["job_id"])
    assert datetime.fromisoformat(job["next_run_time"]) == stored.next_fire_at
    assert job["next_run_time"].endswith("+05:30")
