"""Bob against Alice's job: every endpoint refuses, with the spec's text, and nothing changes."""

import pytest

from cronjobs.models import CronJob

from .helpers import assert_refused, db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db

JOB = "/api/cron/jobs/daily-video-generation"


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("get", JOB, "access"),
        ("get", f"{JOB}/", "access"),
        ("get", f"{JOB}/runs", "access"),
        ("delete", JOB, "delete"),
        ("post", f"{JOB}/trigger", "trigger"),
        ("post", f"{JOB}/pause", "pause"),
    ],
)
def test_it_refuses_another_users_job(bob_api, cron_job, method, path, action):
    before = db_snapshot()

    response = getattr(bob_api, method)(path)

    assert_refused(response, 403, f"You don't have permission to {action} this job")
    assert db_snapshot() == before


def test_it_refuses_to_resume_another_users_paused_job(api, bob_api, cron_job):
    api.post(f"{JOB}/pause")
    before = db_snapshot()

    response = bob_api.post(f"{JOB}/resume")

    assert_refused(response, 403, "You don't have permission to resume this job")
    assert db_snapshot() == before
    assert CronJob.objects.get(job_id="daily-video-generation").paused is True


def test_it_refuses_to_run_another_users_workflow(bob_api, cron_job):
    before = db_snapshot()

    response = post_cron(bob_api, job_id="bob-job", user_id="bob-uuid")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


def test_it_refuses_to_run_another_users_workflow_on_an_interval(bob_api, cron_job):
    before = db_snapshot()

    response = post_interval(bob_api, job_id="bob-job", user_id="bob-uuid")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


@pytest.mark.parametrize("post", [post_cron, post_interval], ids=["cron", "interval"])
def test_it_refuses_to_create_a_job_in_another_users_name(bob_api, cron_job, bob_workflow, post):
    before = db_snapshot()

    response = post(bob_api, job_id="bob-job", workflow_id="bob-workflow", user_id="alice-uuid")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


@pytest.mark.parametrize("post", [post_cron, post_interval], ids=["cron", "interval"])
def test_it_refuses_to_take_over_another_users_job_id(bob_api, cron_job, bob_workflow, post):
    before = db_snapshot()

    response = post(bob_api, job_id="daily-video-generation", workflow_id="bob-workflow", user_id="bob-uuid")

    assert_refused(response, 403)
    assert db_snapshot() == before


def test_it_does_not_reveal_another_users_job_in_the_list(bob_api, cron_job):
    body = bob_api.get("/api/cron/jobs").json()

    assert body["total_jobs"] == 0
    assert body["jobs"] == []


def test_it_still_serves_the_owner_after_refusing_another_user(api, bob_api, cron_job):
    bob_api.delete(JOB)
    bob_api.post(f"{JOB}/pause")

    job = api.get(JOB).json()["job"]

    assert job["paused"] is False
    assert job["next_run_time"] is not None


def test_it_refuses_a_live_stream_of_another_users_job(bob_api, cron_job):
    before = db_snapshot()

    response = bob_api.post("/api/stream/token", {"job_id": "daily-video-generation"}, format="json")

    assert_refused(response, 403, "You don't have permission to watch this job")
    assert db_snapshot() == before
