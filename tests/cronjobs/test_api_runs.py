"""GET /api/cron/jobs/{job_id}/runs: the job's run history, newest first, with a validated limit."""

from datetime import timedelta

import pytest
from django.conf import settings

from cronjobs.tasks import fire_job
from tests.conftest import RUN_FIELDS

from .helpers import assert_refused

pytestmark = pytest.mark.django_db


def trigger(api, job_id: str = "daily-video-generation") -> str:
    response = api.post(f"/api/cron/jobs/{job_id}/trigger")
    assert response.status_code == 200, response.json()
    return response.json()["run_id"]


def test_it_lists_no_runs_for_a_new_job(api, cron_job):
    response = api.get("/api/cron/jobs/daily-video-generation/runs")

    assert response.status_code == 200
    assert response.json() == {"status": "success", "job_id": "daily-video-generation", "total_runs": 0, "runs": []}


def test_it_lists_runs_newest_first_with_the_total(api, cron_job):
    run_ids = [trigger(api) for _ in range(3)]

    response = api.get("/api/cron/jobs/daily-video-generation/runs")

    body = response.json()
    assert (body["status"], body["job_id"], body["total_runs"]) == ("success", "daily-video-generation", 3)
    assert [run["run_id"] for run in body["runs"]] == list(reversed(run_ids))


def test_it_describes_each_run(api, cron_job):
    run_id = trigger(api)

    (run,) = api.get("/api/cron/jobs/daily-video-generation/runs").json()["runs"]

    assert RUN_FIELDS <= set(run)
    assert {key: run[key] for key in RUN_FIELDS - {"run_id"}} == {
        "job_id": "daily-video-generation",
        "workflow_id": "video-automation-workflow",
        "user_id": "alice-uuid",
        "trigger": "manual",
        "scheduled_for": None,
        "status": "queued",
        "started_at": None,
        "finished_at": None,
        "input_text": "Generate video about tech news",
        "output": None,
        "error": None,
        "reason": None,
    }
    assert run["run_id"] == run_id


def test_it_lists_scheduled_and_manual_runs_together(api, cron_job):
    nine_tomorrow = (cron_job.anchor + timedelta(days=1)).replace(hour=9, minute=0, second=0)
    fire_job("daily-video-generation", fired_at=nine_tomorrow.isoformat())  # what beat sends at a slot
    trigger(api)

    runs = api.get("/api/cron/jobs/daily-video-generation/runs").json()["runs"]

    assert [run["trigger"] for run in runs] == ["manual", "schedule"]
    assert runs[1]["scheduled_for"] is not None


def test_it_lists_only_this_jobs_runs(api, cron_job, interval_job):
    trigger(api, "hourly-video-check")
    own = trigger(api)

    body = api.get("/api/cron/jobs/daily-video-generation/runs").json()

    assert body["total_runs"] == 1
    assert [run["run_id"] for run in body["runs"]] == [own]


def test_it_returns_at_most_limit_runs_but_counts_them_all(api, cron_job):
    run_ids = [trigger(api) for _ in range(3)]

    body = api.get("/api/cron/jobs/daily-video-generation/runs?limit=2").json()

    assert body["total_runs"] == 3
    assert [run["run_id"] for run in body["runs"]] == [run_ids[2], run_ids[1]]


def test_it_accepts_the_largest_limit(api, cron_job):
    trigger(api)

    response = api.get(f"/api/cron/jobs/daily-video-generation/runs?limit={settings.RUNS_PAGE_MAX}")

    assert response.status_code == 200
    assert response.json()["total_runs"] == 1


@pytest.mark.parametrize(
    "limit",
    ["0", "-1", "abc", "1.5", "", "%C2%B2", str(settings.RUNS_PAGE_MAX + 1), "9" * 5000],
    ids=["zero", "negative", "word", "fraction", "empty", "superscript-two", "above-max", "5000-digits"],
)
def test_it_refuses_a_bad_limit(api, cron_job, limit):
    response = api.get(f"/api/cron/jobs/daily-video-generation/runs?limit={limit}")

    assert_refused(response, 400, f"limit must be a whole number from 1 to {settings.RUNS_PAGE_MAX}")


def test_it_accepts_a_trailing_slash(api, cron_job):
    trigger(api)

    response = api.get("/api/cron/jobs/daily-video-generation/runs/")

    assert response.status_code == 200
    assert response.json()["total_runs"] == 1


def test_it_answers_404_with_the_spec_text_for_an_unknown_job(api, cron_job):
    assert_refused(api.get("/api/cron/jobs/no-such-job/runs"), 404, "Job no-such-job not found")
