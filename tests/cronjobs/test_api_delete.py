"""DELETE /api/cron/jobs/{job_id}: the job and its beat row go, and beat is told."""

import pytest
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from cronjobs.models import CronJob
from workflows.models import Run

from .helpers import assert_refused, db_snapshot, post_cron

pytestmark = pytest.mark.django_db


def test_it_deletes_the_job_with_the_spec_body(api, cron_job):
    response = api.delete("/api/cron/jobs/daily-video-generation")

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Job daily-video-generation deleted successfully",
        "job_id": "daily-video-generation",
    }
    assert not CronJob.objects.filter(job_id="daily-video-generation").exists()


def test_it_accepts_a_trailing_slash(api, cron_job):
    response = api.delete("/api/cron/jobs/daily-video-generation/")

    assert response.status_code == 200
    assert not CronJob.objects.filter(job_id="daily-video-generation").exists()


def test_it_deletes_the_periodic_task_so_beat_stops_firing(api, cron_job):
    task_pk = cron_job.periodic_task.pk

    api.delete("/api/cron/jobs/daily-video-generation")

    assert not PeriodicTask.objects.filter(pk=task_pk).exists()


def test_it_tells_the_stock_scheduler_that_the_schedule_changed(api, cron_job, stock_scheduler):
    before = PeriodicTasks.last_change()

    api.delete("/api/cron/jobs/daily-video-generation")

    assert PeriodicTasks.last_change() > before


def test_it_deletes_the_jobs_run_history(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/trigger")
    assert Run.objects.filter(job=cron_job).count() == 1

    api.delete("/api/cron/jobs/daily-video-generation")

    assert Run.objects.count() == 0


def test_it_leaves_the_users_other_jobs_alone(api, cron_job, interval_job):
    api.delete("/api/cron/jobs/daily-video-generation")

    assert list(CronJob.objects.values_list("job_id", flat=True)) == ["hourly-video-check"]
    assert PeriodicTask.objects.filter(pk=interval_job.periodic_task.pk).exists()


def test_it_answers_404_after_the_job_is_deleted(api, cron_job):
    api.delete("/api/cron/jobs/daily-video-generation")

    assert_refused(api.get("/api/cron/jobs/daily-video-generation"), 404, "Job daily-video-generation not found")
    assert_refused(api.delete("/api/cron/jobs/daily-video-generation"), 404, "Job daily-video-generation not found")


def test_it_answers_404_with_the_spec_text_for_an_unknown_job(api, cron_job):
    before = db_snapshot()

    response = api.delete("/api/cron/jobs/no-such-job")

    assert_refused(response, 404, "Job no-such-job not found")
    assert db_snapshot() == before


def test_it_frees_the_job_id_for_anyone(api, bob_api, cron_job, bob_workflow):
    api.delete("/api/cron/jobs/daily-video-generation")

    response = post_cron(bob_api, workflow_id="bob-workflow", user_id="bob-uuid")

    assert response.status_code == 200, response.json()
    assert CronJob.objects.get(job_id="daily-video-generation").owner.username == "bob-uuid"
