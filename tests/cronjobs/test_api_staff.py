"""Operators (staff users): the all-jobs list, any job, and jobs created for another user."""

import pytest

from cronjobs.models import CronJob
from workflows.models import Run

from .helpers import CRON_BODY, assert_refused, db_snapshot, post_cron, post_interval, spec_fields

pytestmark = pytest.mark.django_db

JOB = "/api/cron/jobs/daily-video-generation"


def test_it_lists_every_users_jobs_to_an_operator(operator_api, api, bob_api, cron_job, bob_workflow):
    post_interval(bob_api, job_id="bob-hourly", workflow_id="bob-workflow", user_id="bob-uuid")

    response = operator_api.get("/api/cron/jobs/all")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "total_jobs", "jobs"}
    assert (body["status"], body["total_jobs"]) == ("success", 2)
    owners = {job["job_id"]: spec_fields(job)["user_id"] for job in body["jobs"]}
    assert owners == {"daily-video-generation": "alice-uuid", "bob-hourly": "bob-uuid"}
    # The operator sees the same job object its owner sees (next_run_time aside: a slot may pass between).
    alice_view = api.get(JOB).json()["job"]
    operator_view = next(job for job in body["jobs"] if job["job_id"] == "daily-video-generation")
    assert {**operator_view, "next_run_time": None} == {**alice_view, "next_run_time": None}


def test_it_accepts_a_trailing_slash_on_the_all_jobs_list(operator_api, cron_job):
    response = operator_api.get("/api/cron/jobs/all/")

    assert response.status_code == 200
    assert response.json()["total_jobs"] == 1


def test_it_refuses_the_all_jobs_list_to_a_non_staff_user(api, cron_job):
    before = db_snapshot()

    response = api.get("/api/cron/jobs/all")

    assert_refused(response, 403)
    assert db_snapshot() == before


def test_it_lets_an_operator_read_any_job(operator_api, cron_job):
    response = operator_api.get(JOB)

    assert response.status_code == 200
    assert response.json()["job"]["user_id"] == "alice-uuid"


def test_it_lets_an_operator_pause_and_resume_any_job(operator_api, cron_job):
    assert operator_api.post(f"{JOB}/pause").status_code == 200
    assert CronJob.objects.get(job_id="daily-video-generation").paused is True

    assert operator_api.post(f"{JOB}/resume").status_code == 200
    assert CronJob.objects.get(job_id="daily-video-generation").paused is False


def test_it_lets_an_operator_trigger_any_job_as_its_owner(operator_api, cron_job, alice):
    response = operator_api.post(f"{JOB}/trigger")

    assert response.status_code == 200
    run = Run.objects.get(id=response.json()["run_id"])
    assert run.owner == alice
    assert run.trigger == "manual"
    assert operator_api.get(f"{JOB}/runs").json()["total_runs"] == 1


def test_it_lets_an_operator_delete_any_job(operator_api, cron_job):
    response = operator_api.delete(JOB)

    assert response.status_code == 200
    assert not CronJob.objects.exists()


def test_it_lets_an_operator_create_a_job_for_another_user(operator_api, workflow, alice):
    response = post_cron(operator_api)

    assert response.status_code == 200, response.json()
    job = response.json()["job"]
    assert job["user_id"] == "alice-uuid"
    assert job["name"] == "Workflow video-automation-workflow for user alice-uuid"
    assert CronJob.objects.get(job_id="daily-video-generation").owner == alice


def test_it_lets_an_operator_replace_another_users_job_in_their_name(operator_api, cron_job, alice):
    response = post_cron(operator_api, cron_expression="0 10 * * *")

    assert response.status_code == 200, response.json()
    job = CronJob.objects.get(job_id="daily-video-generation")
    assert (job.owner, job.cron_expression) == (alice, "0 10 * * *")


def test_it_refuses_an_operator_a_job_for_an_unknown_user(operator_api, workflow):
    before = db_snapshot()

    response = post_cron(operator_api, user_id="nobody-uuid")

    assert_refused(response, 400)
    assert "nobody-uuid" in response.json()["detail"]
    assert db_snapshot() == before


def test_it_refuses_an_operator_a_workflow_the_named_user_does_not_own(operator_api, workflow, bob):
    before = db_snapshot()

    response = post_cron(operator_api, user_id="bob-uuid")

    assert_refused(response, 403, "Unauthorized: You can only run your own workflows.")
    assert db_snapshot() == before


def test_an_operator_replacing_a_job_without_a_user_id_keeps_its_owner(operator_api, cron_job, alice):
    body = {key: value for key, value in CRON_BODY.items() if key != "user_id"}

    response = operator_api.post("/api/cron/jobs/cron", {**body, "cron_expression": "0 11 * * *"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["job"]["user_id"] == "alice-uuid"
    job = CronJob.objects.get(job_id="daily-video-generation")
    assert (job.owner, job.cron_expression) == (alice, "0 11 * * *")
