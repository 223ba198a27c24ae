"""Retention: each job keeps its newest RUN_HISTORY_LIMIT runs (and so do job-less workflow runs)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs import services as cron
from workflows import maintenance
from workflows.maintenance import runs_trim_history
from workflows.models import Run
from workflows.tasks import trim_run_history


@pytest.fixture
def hourly(make_job, workflow):
    def make(job_id: str):
        return make_job(workflow, schedules.interval_spec(hours=1), job_id=job_id)

    return make


def add_runs(workflow, count: int, *, job=None, status=Run.Status.SUCCEEDED, start=None) -> list[Run]:
    """``count`` runs one minute apart, oldest first."""
    start = start or timezone.now() - timedelta(days=1)
    runs = Run.objects.bulk_create(
        Run(workflow=workflow, owner=workflow.owner, job=job, trigger=Run.Trigger.MANUAL, status=status)
        for _ in range(count)
    )
    for minute, run in enumerate(runs):
        Run.objects.filter(pk=run.pk).update(created_at=start + timedelta(minutes=minute))
    return runs


def ids(runs) -> set:
    return {run.pk for run in runs}


def test_it_keeps_the_newest_runs_of_each_job(settings, workflow, hourly):
    settings.RUN_HISTORY_LIMIT = 3
    busy, quiet = hourly("busy"), hourly("quiet")
    busy_runs = add_runs(workflow, 7, job=busy)
    quiet_runs = add_runs(workflow, 2, job=quiet)

    assert runs_trim_history() == 4

    assert ids(Run.objects.filter(job=busy)) == ids(busy_runs[-3:])
    assert ids(Run.objects.filter(job=quiet)) == ids(quiet_runs)


def test_it_never_deletes_a_queued_or_running_run(settings, workflow, hourly):
    settings.RUN_HISTORY_LIMIT = 2
    job = hourly("busy")
    old = add_runs(workflow, 3, job=job)
    Run.objects.filter(pk=old[0].pk).update(status=Run.Status.RUNNING)
    Run.objects.filter(pk=old[1].pk).update(status=Run.Status.QUEUED)
    newest = add_runs(workflow, 2, job=job, start=timezone.now() - timedelta(minutes=10))

    runs_trim_history()

    assert ids(Run.objects.filter(job=job)) == ids([old[0], old[1], *newest])


def test_runs_started_from_a_workflow_are_kept_per_workflow(settings, workflow, make_workflow, alice, hourly):
    settings.RUN_HISTORY_LIMIT = 2
    other = make_workflow(alice, "other")
    manual = add_runs(workflow, 4)
    other_runs = add_runs(other, 2)
    job_runs = add_runs(workflow, 2, job=hourly("job"))

    runs_trim_history()

    assert ids(Run.objects.filter(workflow=workflow, job__isnull=True)) == ids(manual[-2:])
    assert ids(Run.objects.filter(workflow=other)) == ids(other_runs)
    assert ids(Run.objects.filter(job__isnull=False)) == ids(job_runs)


def test_it_walks_every_job_in_batches(settings, workflow, hourly, monkeypatch):
    monkeypatch.setattr(maintenance, "TRIM_BATCH", 2)  # five jobs: three batches
    settings.RUN_HISTORY_LIMIT = 1
    jobs = [hourly(f"job-{n}") for n in range(5)]
    newest = [add_runs(workflow, 3, job=job)[-1] for job in jobs]

    assert runs_trim_history() == 10

    assert ids(Run.objects.all()) == ids(newest)


def test_trimming_twice_deletes_nothing_more(settings, workflow, hourly):
    settings.RUN_HISTORY_LIMIT = 2
    job = hourly("busy")
    add_runs(workflow, 5, job=job)
    trim_run_history()  # the task beat sends

    assert runs_trim_history() == 0
    assert Run.objects.filter(job=job).count() == 2


def test_deleting_a_job_deletes_its_runs(workflow, hourly, alice):
    job = hourly("gone")
    add_runs(workflow, 3, job=job)

    cron.job_delete(user=alice, job_id="gone")

    assert not Run.objects.exists()


def test_runs_created_at_the_same_instant_still_leave_exactly_the_limit(settings, workflow, hourly):
    settings.RUN_HISTORY_LIMIT = 2
    job = hourly("burst")
    runs = add_runs(workflow, 4, job=job)
    Run.objects.filter(job=job).update(created_at=runs[0].created_at)

    runs_trim_history()

    assert Run.objects.filter(job=job).count() == 2
