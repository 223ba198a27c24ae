"""GET /api/cron/jobs: the caller's own jobs, in the spec's shape."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules

from .helpers import (
    SPEC_CRON_JOB,
    SPEC_INTERVAL_JOB,
    assert_cron_next_run,
    assert_interval_next_run,
    post_cron,
    post_interval,
    spec_fields,
)

pytestmark = pytest.mark.django_db


def test_it_lists_the_callers_jobs_with_the_spec_body(api, workflow):
    before = timezone.now()
    post_cron(api)
    post_interval(api)
    after = timezone.now()

    response = api.get("/api/cron/jobs")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "user_id", "total_jobs", "jobs"}
    assert (body["status"], body["user_id"], body["total_jobs"]) == ("success", "alice-uuid", 2)
    jobs = {job["job_id"]: spec_fields(job) for job in body["jobs"]}
    assert set(jobs) == {"daily-video-generation", "hourly-video-check"}

    daily = jobs["daily-video-generation"]
    assert_cron_next_run(daily.pop("next_run_time"), "0 9 * * *", "UTC", before, after)
    assert daily == SPEC_CRON_JOB
    hourly = jobs["hourly-video-check"]
    assert_interval_next_run(hourly.pop("next_run_time"), timedelta(hours=1, minutes=30), before, after)
    assert hourly == SPEC_INTERVAL_JOB


def test_it_accepts_a_trailing_slash(api, cron_job):
    response = api.get("/api/cron/jobs/")

    assert response.status_code == 200
    assert [job["job_id"] for job in response.json()["jobs"]] == ["daily-video-generation"]


def test_it_lists_nothing_for_a_user_without_jobs(bob_api, cron_job):
    response = bob_api.get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json() == {"status": "success", "user_id": "bob-uuid", "total_jobs": 0, "jobs": []}


def test_it_leaves_out_other_users_jobs(api, bob_api, cron_job, bob_workflow):
    post_cron(bob_api, job_id="bob-daily", workflow_id="bob-workflow", user_id="bob-uuid")

    alice_ids = [job["job_id"] for job in api.get("/api/cron/jobs").json()["jobs"]]
    bob_ids = [job["job_id"] for job in bob_api.get("/api/cron/jobs").json()["jobs"]]

    assert alice_ids == ["daily-video-generation"]
    assert bob_ids == ["bob-daily"]


def test_it_shows_a_paused_job_with_no_next_run_time(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    (job,) = api.get("/api/cron/jobs").json()["jobs"]

    assert job["paused"] is True
    assert job["next_run_time"] is None


@pytest.mark.parametrize("url", ["/api/cron/jobs", "/api/cron/jobs/all"])
def test_a_list_describes_each_distinct_schedule_once(
    url, client_for, alice, operator, workflow, make_job, monkeypatch
):
    """A page of jobs describes each schedule once, not once per job: cron-descriptor reads its
    translation file for every description, which made a page of 100 jobs take most of 200 ms."""
    expressions = ["0 9 * * 1-5", "*/2 * * * *"]
    for n in range(10):
        make_job(workflow, schedules.cron_spec(expression=expressions[n % 2]), job_id=f"job-{n}")
    schedules.describe_cron.cache_clear()
    described = []

    class Counting(schedules.ExpressionDescriptor):
        def __init__(self, expression, options):
            described.append(expression)
            super().__init__(expression, options)

    monkeypatch.setattr(schedules, "ExpressionDescriptor", Counting)
    response = client_for(operator if url.endswith("all") else alice).get(url)

    assert response.status_code == 200
    jobs = response.json()["jobs"]
    assert len(jobs) == 10
    assert {job["description"] for job in jobs} == {"At 09:00, Monday through Friday", "Every 2 minutes"}
    assert sorted(described) == ["*/2 * * * *", "0 9 * * 1-5"]
