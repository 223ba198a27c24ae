"""Each job in the API carries its description, zone and newest run, without a query per job."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cronjobs import schedules
from workflows.models import Run

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def add_run(job, *, created: datetime, status: str, started: datetime | None = None) -> Run:
    run = Run.objects.create(
        job=job, workflow=job.workflow, owner=job.owner, trigger=Run.Trigger.MANUAL, status=status, started_at=started
    )
    # created_at is set on insert; pinning it makes "newest" independent of insert timing.
    Run.objects.filter(pk=run.pk).update(created_at=created)
    return run


def test_a_new_job_is_described_and_has_no_last_run(api, cron_job, interval_job):
    jobs = {job["job_id"]: job for job in api.get("/api/cron/jobs").json()["jobs"]}

    assert jobs["daily-video-generation"]["description"] == "At 09:00"
    assert jobs["hourly-video-check"]["description"] == "Every 1 hour 30 minutes"
    for job in jobs.values():
        assert job["timezone"] == "UTC"
        assert job["last_run_time"] is None and job["last_run_status"] is None


def test_the_description_follows_the_expression(api, workflow):
    response = api.post(
        "/api/cron/jobs/cron",
        {"job_id": "weekdays", "workflow_id": workflow.workflow_id, "cron_expression": "0 9 * * mon-fri"},
        format="json",
    )

    assert response.json()["job"]["description"] == "At 09:00, Monday through Friday"


def test_the_last_run_is_the_newest_one_in_the_jobs_zone(api, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="0 9 * * *", timezone_name="Asia/Tokyo"), "tokyo")
    add_run(job, created=START, status=Run.Status.FAILED, started=START)
    add_run(
        job, created=START + timedelta(minutes=5), status=Run.Status.SUCCEEDED, started=START + timedelta(minutes=6)
    )

    for body in (api.get("/api/cron/jobs").json()["jobs"][0], api.get("/api/cron/jobs/tokyo").json()["job"]):
        assert body["last_run_status"] == "succeeded"
        assert body["last_run_time"] == "2025-03-01T17:06:00+09:00"  # when it started, in Tokyo time


def test_a_run_that_never_started_shows_when_it_was_recorded(api, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(minutes=1), "queued-one")
    add_run(job, created=START, status=Run.Status.QUEUED)

    body = api.get("/api/cron/jobs/queued-one").json()["job"]

    assert body["last_run_status"] == "queued"
    assert datetime.fromisoformat(body["last_run_time"]) == START


def listing_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/api/cron/jobs", "/api/cron/jobs/all"])
def test_listing_takes_the_same_queries_for_one_job_or_many(client_for, operator, workflow, make_job, url):
    client = client_for(operator if url.endswith("all") else workflow.owner)
    first = make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), "job-0")
    add_run(first, created=START, status=Run.Status.SUCCEEDED, started=START)
    one = listing_queries(client, url)

    for i in range(1, 6):
        job = make_job(workflow, schedules.interval_spec(minutes=i), f"job-{i}")
        add_run(job, created=START, status=Run.Status.FAILED, started=START)

    assert listing_queries(client, url) == one
