"""Beat's write-back of a job's last_run_at never undoes a replace or a resume."""

from datetime import timedelta

from django_celery_beat.models import PeriodicTask

from cronjobs import services
from cronjobs.scheduler import JobEntry
from vingine.celery import app


def test_beats_older_last_run_does_not_overwrite_a_replaced_schedules_start(workflow, make_job):
    job = make_job(workflow, services.interval_spec(seconds=30), "every-30s")
    # Beat loaded the row, then fired it (its in-memory last_run_at), then the job was replaced.
    entry = JobEntry(PeriodicTask.objects.get(pk=job.periodic_task_id), app=app)
    entry.model.last_run_at = job.anchor - timedelta(seconds=15)
    replaced = make_job(workflow, services.interval_spec(seconds=10), "every-30s")

    entry.save()  # what beat's sync does before it reloads

    assert PeriodicTask.objects.get(pk=job.periodic_task_id).last_run_at == replaced.anchor


def test_beats_newer_last_run_is_written(workflow, make_job):
    job = make_job(workflow, services.interval_spec(seconds=30), "every-30s")
    entry = JobEntry(PeriodicTask.objects.get(pk=job.periodic_task_id), app=app)
    fired = job.anchor + timedelta(seconds=30)
    entry.model.last_run_at, entry.model.total_run_count = fired, 1

    entry.save()

    task = PeriodicTask.objects.get(pk=job.periodic_task_id)
    assert (task.last_run_at, task.total_run_count) == (fired, 1)
