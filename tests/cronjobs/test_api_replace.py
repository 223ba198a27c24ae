"""Creating a job under an id the caller already owns replaces it atomically; someone else's id is refused."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from cronjobs.models import CronJob

from .helpers import (
    assert_cron_next_run,
    assert_interval_next_run,
    assert_refused,
    ceil_second,
    db_snapshot,
    post_cron,
    post_interval,
)

pytestmark = pytest.mark.django_db


def only_job(job_id: str) -> CronJob:
    """The one job (and so the one beat row) under ``job_id``; fails if a replace left a second one."""
    assert CronJob.objects.count() == 1
    assert PeriodicTask.objects.count() == 1
    return CronJob.objects.select_related("periodic_task__crontab", "periodic_task__interval").get(job_id=job_id)


def test_it_replaces_the_schedule_input_and_workflow_of_a_cron_job(api, cron_job, make_workflow, alice):
    make_workflow(alice, "other-workflow")

    before = timezone.now()
    response = post_cron(api, workflow_id="other-workflow", input="New input", cron_expression="30 18 * * 1-5")
    after = timezone.now()

    assert response.status_code == 200, response.json()
    assert response.json()["message"] == "Cron job daily-video-generation created successfully"
    body = response.json()["job"]
    assert body["workflow_id"] == "other-workflow"
    assert body["name"] == "Workflow other-workflow for user alice-uuid"
    assert body["input_text"] == "New input"
    assert body["schedule"] == "30 18 * * 1-5"
    assert_cron_next_run(body["next_run_time"], "30 18 * * 1-5", "UTC", before, after)
    job = only_job("daily-video-generation")
    assert job.pk == cron_job.pk
    assert job.periodic_task.pk == cron_job.periodic_task.pk
    crontab = job.periodic_task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "18", "1-5")


def test_it_switches_a_cron_job_to_an_interval_under_the_same_id(api, cron_job):
    before = timezone.now()
    response = post_interval(api, job_id="daily-video-generation", hours=2, minutes=0)
    after = timezone.now()

    assert response.status_code == 200, response.json()
    assert response.json()["message"] == "Interval job daily-video-generation created successfully"
    body = response.json()["job"]
    assert (body["schedule_type"], body["schedule"], body["trigger"]) == ("interval", "2h", "interval[2:00:00]")
    assert_interval_next_run(body["next_run_time"], timedelta(hours=2), before, after)
    job = only_job("daily-video-generation")
    assert (job.schedule_type, job.interval_seconds, job.cron_expression) == ("interval", 7200, "")
    task = job.periodic_task
    assert task.pk == cron_job.periodic_task.pk
    assert task.crontab is None
    assert (task.interval.every, task.interval.period) == (7200, IntervalSchedule.SECONDS)


def test_it_switches_an_interval_job_to_cron_under_the_same_id(api, interval_job):
    before = timezone.now()
    response = post_cron(api, job_id="hourly-video-check", cron_expression="*/15 * * * *")
    after = timezone.now()

    assert response.status_code == 200, response.json()
    body = response.json()["job"]
    assert (body["schedule_type"], body["schedule"]) == ("cron", "*/15 * * * *")
    assert body["trigger"] == "cron[month='*', day='*', day_of_week='*', hour='*', minute='*/15']"
    assert_cron_next_run(body["next_run_time"], "*/15 * * * *", "UTC", before, after)
    job = only_job("hourly-video-check")
    assert (job.schedule_type, job.interval_seconds, job.cron_expression) == ("cron", None, "*/15 * * * *")
    task = job.periodic_task
    assert task.pk == interval_job.periodic_task.pk
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour) == ("*/15", "*")


def test_it_restarts_interval_slots_from_the_replacement(api, interval_job):
    before = timezone.now()
    response = post_interval(api, hours=0, minutes=20)
    after = timezone.now()

    job = only_job("hourly-video-check")
    assert before <= job.anchor <= ceil_second(after)
    assert job.periodic_task.last_run_at == job.anchor
    assert_interval_next_run(response.json()["job"]["next_run_time"], timedelta(minutes=20), before, after)


def test_it_unpauses_a_replaced_job(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    response = post_cron(api, cron_expression="0 10 * * *")

    body = response.json()["job"]
    assert body["paused"] is False
    assert body["next_run_time"] is not None
    job = only_job("daily-video-generation")
    assert job.paused is False
    assert job.periodic_task.enabled is True


def test_it_keeps_the_beat_row_pointing_at_the_job(api, cron_job):
    post_interval(api, job_id="daily-video-generation")

    task = only_job("daily-video-generation").periodic_task
    assert json.loads(task.kwargs) == {"job_id": "daily-video-generation"}
    assert task.name == cron_job.periodic_task.name


def test_it_tells_the_stock_scheduler_about_the_replacement(api, cron_job, stock_scheduler):
    before = PeriodicTasks.last_change()

    post_cron(api, cron_expression="0 10 * * *")

    assert PeriodicTasks.last_change() > before


def test_it_keeps_the_jobs_run_history(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/trigger")

    post_interval(api, job_id="daily-video-generation")

    assert api.get("/api/cron/jobs/daily-video-generation/runs").json()["total_runs"] == 1


def test_it_refuses_to_replace_another_users_job(bob_api, cron_job, bob_workflow):
    before = db_snapshot()

    response = post_cron(bob_api, workflow_id="bob-workflow", user_id="bob-uuid", cron_expression="* * * * *")

    assert_refused(response, 403)
    assert response.json()["detail"].startswith("You don't have permission to replace this job")
    assert db_snapshot() == before


def test_it_refuses_to_replace_another_users_job_with_an_interval(bob_api, cron_job, bob_workflow):
    before = db_snapshot()

    response = post_interval(bob_api, job_id="daily-video-generation", workflow_id="bob-workflow", user_id="bob-uuid")

    assert_refused(response, 403)
    assert response.json()["detail"].startswith("You don't have permission to replace this job")
    assert db_snapshot() == before


def test_it_leaves_the_old_job_whole_when_the_replacement_is_invalid(api, cron_job):
    before = db_snapshot()

    response = post_cron(api, cron_expression="0 9 * * * *", input="Changed")

    assert_refused(response, 400)
    assert db_snapshot() == before
