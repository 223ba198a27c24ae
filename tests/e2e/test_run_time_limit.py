"""A run over WORKFLOW_RUN_TIME_LIMIT on a real worker ends failed with reason timeout."""

import pytest

from workflows import dispatch
from workflows.models import Run
from workflows.runs import run_enqueue

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e

TIME_LIMIT = 2  # seconds, for this module's worker
FINISHED = (Run.Status.SUCCEEDED, Run.Status.FAILED)


@pytest.fixture(scope="module", params=["gevent", "prefork"])
def limited_worker(request, celery_env, tmp_path_factory):
    # Celery raises the soft limit itself under prefork; under gevent the run does (vingine.concurrency).
    process = start_worker(
        celery_env,
        tmp_path_factory.mktemp("worker"),
        pool=request.param,
        concurrency=1,
        WORKFLOW_RUN_TIME_LIMIT=str(TIME_LIMIT),
    )
    try:
        yield process
    finally:
        process.stop()


def finished(run: Run, worker) -> Run:
    return wait_until(
        lambda: Run.objects.filter(pk=run.pk, status__in=FINISHED).first(),
        timeout=30,
        what="the run to finish",
        watch=(worker,),
    )


def test_a_run_over_the_time_limit_is_stopped_and_ends_failed_timeout(
    transactional_db, limited_worker, alice, make_workflow
):
    # The sleep does not look at any deadline: only Celery's soft time limit can stop it.
    steps = [
        {"type": "template", "template": "Video about {{input}}"},
        {"type": "python", "callable": "sleep", "seconds": 60},
    ]
    workflow = make_workflow(alice, "e2e-too-slow", steps=steps)

    run = finished(
        run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats"), limited_worker
    )

    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.TIMEOUT)
    assert run.error == "steps[1] (python) stopped: the run went over its time limit"
    assert run.steps[0]["output"] == "Video about cats"
    assert run.steps[1]["error"] == "stopped: the run went over its time limit"
    assert (run.finished_at - run.started_at).total_seconds() < 60

    # The worker goes on taking runs.
    quick = make_workflow(alice, "e2e-quick")
    after = finished(
        run_enqueue(workflow=quick, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats"), limited_worker
    )
    assert after.status == Run.Status.SUCCEEDED


def test_runs_sent_together_each_have_their_own_time_limit(transactional_db, limited_worker, alice, make_workflow):
    slow = make_workflow(alice, "e2e-together-slow", steps=[{"type": "python", "callable": "sleep", "seconds": 60}])
    quick = make_workflow(alice, "e2e-together-quick")
    queued = [
        Run.objects.create(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats")
        for workflow in (slow, quick, slow)
    ]

    dispatch.runs_dispatch([run.id for run in queued])  # in one message (RUNS_PER_MESSAGE)

    runs = [finished(run, limited_worker) for run in queued]
    assert [(run.status, run.reason) for run in runs] == [
        (Run.Status.FAILED, Run.Reason.TIMEOUT),
        (Run.Status.SUCCEEDED, ""),
        (Run.Status.FAILED, Run.Reason.TIMEOUT),
    ]
    # Each stopped at its own limit, counted from its own start (the third, on one slot, starts
    # after the first has ended). Under prefork Celery's timer starts as the task does, a moment
    # before the run records its start.
    for run in (runs[0], runs[2]):
        assert TIME_LIMIT - 0.5 <= (run.finished_at - run.started_at).total_seconds() < TIME_LIMIT + 5
