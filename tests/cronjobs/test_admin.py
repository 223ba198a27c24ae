"""Operators see and steer jobs in the admin; its actions go through the same services as the API."""

import pytest
from django_celery_beat.models import PeriodicTask

from cronjobs import services
from cronjobs.models import CronJob
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice, workflow):
    return services.job_upsert(
        caller=alice,
        job_id="nightly",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="x",
        spec=services.cron_spec(expression="0 3 * * *"),
    )


def test_the_job_list_filters_and_searches(admin_client, job):
    response = admin_client.get("/admin/cronjobs/cronjob/", {"paused__exact": "0", "q": "alice-uuid"})

    assert response.status_code == 200
    assert "nightly" in response.content.decode()


def test_a_jobs_page_shows_its_runs(admin_client, job, alice):
    services.job_trigger(user=alice, job_id="nightly")
    run = Run.objects.get(job=job)

    response = admin_client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/")

    assert response.status_code == 200
    assert str(run.id) in response.content.decode()


def test_the_pause_and_resume_actions_flip_the_periodic_task(admin_client, job):
    admin_client.post("/admin/cronjobs/cronjob/", {"action": "pause_jobs", "_selected_action": [job.pk]}, follow=True)
    assert CronJob.objects.get(pk=job.pk).paused is True
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled is False

    admin_client.post("/admin/cronjobs/cronjob/", {"action": "resume_jobs", "_selected_action": [job.pk]}, follow=True)
    assert CronJob.objects.get(pk=job.pk).paused is False
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled is True


def test_the_run_now_action_queues_a_manual_run(admin_client, job):
    admin_client.post("/admin/cronjobs/cronjob/", {"action": "trigger_jobs", "_selected_action": [job.pk]})

    assert Run.objects.get(job=job).trigger == Run.Trigger.MANUAL


def test_deleting_a_job_in_the_admin_removes_its_periodic_task(admin_client, job):
    admin_client.post(f"/admin/cronjobs/cronjob/{job.pk}/delete/", {"post": "yes"})

    assert not CronJob.objects.filter(pk=job.pk).exists()
    assert not PeriodicTask.objects.filter(pk=job.periodic_task_id).exists()


def test_runs_are_read_only_in_the_admin(admin_client, job, alice):
    services.job_trigger(user=alice, job_id="nightly")
    run = Run.objects.get(job=job)

    assert admin_client.get("/admin/workflows/run/").status_code == 200
    assert admin_client.get(f"/admin/workflows/run/{run.id}/change/").status_code == 200
    admin_client.post(f"/admin/workflows/run/{run.id}/change/", {"status": "succeeded"})
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
