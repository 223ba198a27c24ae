"""A run carries its job's tags as they were when it was recorded (its workflow's, without a job):
manual, rerun and backfill runs here, scheduled ones in test_scheduler_claims."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from cronjobs.models import CronJob
from workflows.models import Run

from .helpers import post_cron

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged_job(api, workflow) -> CronJob:
    response = post_cron(api, cron_expression="15 * * * *", tags=["video", "daily"])
    assert response.status_code == 200, response.json()
    return CronJob.objects.get(job_id="daily-video-generation")


def test_a_triggered_run_carries_the_jobs_tags(api, tagged_job):
    run_id = api.post("/api/cron/jobs/daily-video-generation/trigger").json()["run_id"]

    assert api.get(f"/api/runs/{run_id}").json()["run"]["tags"] == ["video", "daily"]
    assert Run.objects.get(id=run_id).tags == ["video", "daily"]


def test_a_rerun_carries_the_jobs_tags_as_they_are_now(api, tagged_job):
    run_id = api.post("/api/cron/jobs/daily-video-generation/trigger").json()["run_id"]
    post_cron(api, cron_expression="15 * * * *", tags=["weekly"])

    again = api.post(f"/api/runs/{run_id}/rerun").json()["run"]

    assert again["tags"] == ["weekly"]
    assert api.get(f"/api/runs/{run_id}").json()["run"]["tags"] == ["video", "daily"]  # recorded before


def test_backfill_runs_carry_the_jobs_tags(api, tagged_job):
    start = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)

    response = api.post(
        "/api/cron/jobs/daily-video-generation/backfill",
        {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["runs_created"] == 2
    runs = Run.objects.filter(job=tagged_job, trigger=Run.Trigger.BACKFILL)
    assert [run.tags for run in runs] == [["video", "daily"]] * 2


def test_a_run_of_a_workflow_without_a_job_carries_the_workflows_tags(api):
    api.post(
        "/api/workflows",
        {"workflow_id": "tagged", "steps": [{"type": "python", "callable": "echo"}], "tags": ["adhoc"]},
        format="json",
    )

    run = api.post("/api/workflows/tagged/run", {"input": "x"}, format="json").json()["run"]

    assert (run["job_id"], run["tags"]) == (None, ["adhoc"])


def test_a_jobs_run_carries_the_jobs_tags_not_its_workflows(api, make_workflow, alice):
    api.post(
        "/api/workflows",
        {"workflow_id": "video-automation-workflow", "steps": [{"type": "python", "callable": "echo"}], "tags": ["wf"]},
        format="json",
    )
    post_cron(api, tags=["job"])

    run_id = api.post("/api/cron/jobs/daily-video-generation/trigger").json()["run_id"]

    assert Run.objects.get(id=run_id).tags == ["job"]
