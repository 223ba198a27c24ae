"""workflows.runs.run_execute: claims a queued run, runs it once, records the outcome."""

import uuid

from django.utils import timezone

from workflows.models import Run
from workflows.runs import run_enqueue, run_execute
from workflows.tasks import execute_run


def queued_run(workflow, input_text: str = "tech news") -> Run:
    return run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text=input_text)


def test_it_runs_a_queued_run_to_success(workflow):
    run = queued_run(workflow)
    before = timezone.now()

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == "Video about tech news"  # the default workflow: template, then echo
    assert [step["output"] for step in run.steps] == ["Video about tech news", "Video about tech news"]
    assert run.error == ""
    assert before <= run.started_at <= run.finished_at <= timezone.now()


def test_it_marks_the_run_running_while_the_workflow_runs(make_workflow, alice, register_callable):
    seen = []
    register_callable("record-status", lambda *, previous, input, step: seen.append(Run.objects.get().status))
    run = queued_run(make_workflow(alice, "recording", steps=[{"type": "python", "callable": "record-status"}]))

    run_execute(run_id=run.id)

    assert seen == [Run.Status.RUNNING]


def test_a_second_call_on_the_same_run_does_nothing(workflow):
    run = queued_run(workflow)
    run_execute(run_id=run.id)
    first = Run.objects.get(id=run.id)

    assert run_execute(run_id=run.id) is None

    second = Run.objects.get(id=run.id)
    assert (second.status, second.started_at, second.finished_at, second.steps) == (
        first.status,
        first.started_at,
        first.finished_at,
        first.steps,
    )


def test_it_leaves_a_run_another_worker_claimed_alone(workflow):
    run = queued_run(workflow)
    Run.objects.filter(id=run.id).update(status=Run.Status.RUNNING, started_at=timezone.now())

    assert run_execute(run_id=run.id) is None

    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    assert run.finished_at is None
    assert run.output is None


def test_it_ignores_a_run_that_no_longer_exists(db):
    assert run_execute(run_id=uuid.uuid4()) is None


def test_a_failing_workflow_ends_failed_with_the_error(make_workflow, alice):
    steps = [{"type": "template", "template": "{{input}}"}, {"type": "python", "callable": "fail", "message": "boom"}]
    run = queued_run(make_workflow(alice, "failing", steps=steps))

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == "steps[1] (python) failed: boom"
    assert run.reason == "error"
    assert run.output is None
    assert len(run.steps) == 2
    assert run.started_at <= run.finished_at


def test_the_task_runs_the_run_by_id(workflow):
    run = queued_run(workflow)

    execute_run(str(run.id))  # the task body, called in-process

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
