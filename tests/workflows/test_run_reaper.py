"""The reaper: runs left ``running`` by a dead worker end failed with reason ``lost``."""

from datetime import timedelta

import pytest
from billiard.exceptions import TimeLimitExceeded
from django.utils import timezone

from vingine import heartbeat
from workflows.maintenance import runs_reap_lost
from workflows.models import Run
from workflows.runs import run_execute
from workflows.tasks import _run_ended_by_its_process, execute_run, reap_lost_runs


@pytest.fixture
def lost_after(settings) -> timedelta:
    settings.WORKFLOW_RUN_TIME_LIMIT, settings.WORKFLOW_RUN_KILL_GRACE, settings.WORKFLOW_RUN_LOST_GRACE = 60, 10, 20
    return timedelta(seconds=90)


def make_run(workflow, status, started_ago: timedelta | None) -> Run:
    started_at = timezone.now() - started_ago if started_ago is not None else None
    return Run.objects.create(
        workflow=workflow,
        owner=workflow.owner,
        trigger=Run.Trigger.MANUAL,
        status=status,
        started_at=started_at,
    )


def test_it_fails_a_run_running_past_its_limit_and_grace(workflow, lost_after):
    stuck = make_run(workflow, Run.Status.RUNNING, lost_after + timedelta(seconds=1))

    assert runs_reap_lost() == 1

    stuck.refresh_from_db()
    assert (stuck.status, stuck.reason) == (Run.Status.FAILED, Run.Reason.LOST)
    assert stuck.finished_at is not None
    assert "stopped before the run finished" in stuck.error


def test_it_leaves_runs_that_may_still_be_going_and_finished_runs_alone(workflow, lost_after):
    recent = make_run(workflow, Run.Status.RUNNING, lost_after - timedelta(seconds=5))
    queued = make_run(workflow, Run.Status.QUEUED, None)
    done = make_run(workflow, Run.Status.SUCCEEDED, lost_after * 2)

    assert runs_reap_lost() == 0

    for run, status in [(recent, Run.Status.RUNNING), (queued, Run.Status.QUEUED), (done, Run.Status.SUCCEEDED)]:
        run.refresh_from_db()
        assert (run.status, run.reason) == (status, "")


def test_reaping_twice_changes_nothing_the_second_time(workflow, lost_after):
    stuck = make_run(workflow, Run.Status.RUNNING, lost_after * 2)
    reap_lost_runs()  # the task beat sends
    first = Run.objects.get(pk=stuck.pk)

    reap_lost_runs()

    assert Run.objects.get(pk=stuck.pk).finished_at == first.finished_at


def test_a_reaped_run_is_never_started_again(workflow, lost_after):
    # A redelivered message for a run the reaper has ended: the claim finds it no longer queued.
    stuck = make_run(workflow, Run.Status.RUNNING, lost_after * 2)
    runs_reap_lost()

    assert run_execute(run_id=stuck.id) is None
    assert Run.objects.get(pk=stuck.pk).status == Run.Status.FAILED


@pytest.fixture
def heartbeats(settings):
    settings.WORKER_LOST_AFTER_SECONDS = 10
    connection = heartbeat.client()
    written = []

    def beat(worker: str) -> None:
        connection.set(heartbeat.WORKER_KEY.format(worker), "1", ex=10)
        written.append(worker)

    yield beat
    for worker in written:
        connection.delete(heartbeat.WORKER_KEY.format(worker))


def test_it_fails_at_once_a_run_whose_worker_stopped_sending_heartbeats(workflow, lost_after, heartbeats):
    heartbeats("alive@host/1")
    orphan = make_run(workflow, Run.Status.RUNNING, timedelta(seconds=11))
    Run.objects.filter(pk=orphan.pk).update(worker="dead@host/2")
    going = make_run(workflow, Run.Status.RUNNING, timedelta(seconds=11))
    Run.objects.filter(pk=going.pk).update(worker="alive@host/1")
    just_started = make_run(workflow, Run.Status.RUNNING, timedelta(seconds=2))
    Run.objects.filter(pk=just_started.pk).update(worker="dead@host/2")

    assert runs_reap_lost() == 1

    orphan.refresh_from_db()
    assert (orphan.status, orphan.reason) == (Run.Status.FAILED, Run.Reason.LOST)
    assert "stopped sending heartbeats" in orphan.error
    for run in (going, just_started):  # its worker is alive; too young to tell
        run.refresh_from_db()
        assert run.status == Run.Status.RUNNING


def test_a_run_whose_process_was_killed_at_the_hard_limit_ends_timeout(workflow):
    # What the worker's main process reports when the hard time limit kills the pool process
    # (the WorkerLostError case is run for real in tests/e2e/test_webhook_runs.py).
    killed = make_run(workflow, Run.Status.RUNNING, timedelta(seconds=5))
    other = make_run(workflow, Run.Status.RUNNING, timedelta(seconds=5))

    _run_ended_by_its_process(sender=execute_run, exception=TimeLimitExceeded(930), args=(str(killed.pk),))
    _run_ended_by_its_process(sender=execute_run, exception=ValueError("a step's own error"), args=(str(other.pk),))

    killed.refresh_from_db()
    assert (killed.status, killed.reason) == (Run.Status.FAILED, Run.Reason.TIMEOUT)
    assert "went over its time limit" in killed.error
    other.refresh_from_db()
    assert other.status == Run.Status.RUNNING  # a failure inside the run is recorded by the run itself
