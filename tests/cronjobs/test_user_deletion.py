"""Deleting a user removes their workflows, jobs and the jobs' PeriodicTasks, so beat stops."""

from django_celery_beat.models import PeriodicTask, PeriodicTasks

from cronjobs import schedules
from cronjobs.models import CronJob
from workflows.models import Workflow


def test_deleting_a_user_removes_their_jobs_and_periodic_tasks(alice, workflow, make_job, stock_scheduler):
    job = make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), "goes-away")
    before = PeriodicTasks.last_change()

    alice.delete()

    assert not CronJob.objects.filter(pk=job.pk).exists()
    assert not Workflow.objects.filter(pk=workflow.pk).exists()
    assert not PeriodicTask.objects.filter(pk=job.periodic_task_id).exists()
    assert PeriodicTasks.last_change() != before  # the stock scheduler is told to reload
