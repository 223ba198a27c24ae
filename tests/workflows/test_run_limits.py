"""A run's time limit, the backoff between retries, and how much output a run keeps."""

import re
import time

import pytest

from tests.webhooks import Reply
from workflows import runner, serializers
from workflows.models import Run
from workflows.runner import MAX_RUN_OUTPUT_BYTES, DynamicWorkflowRunner
from workflows.runs import run_enqueue, run_execute
from workflows.steps.base import StepMayRetry


def queued_run(make_workflow, alice, steps) -> Run:
    workflow = make_workflow(alice, "limited", steps=steps)
    return run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats")


def test_a_run_over_its_time_limit_ends_failed_with_reason_timeout(
    make_workflow, alice, webhook, allow_local, settings
):
    settings.WORKFLOW_RUN_TIME_LIMIT = 1
    webhook.script("/slow", Reply(200, "late", delay=4))
    steps = [
        {"type": "template", "template": "{{input}}"},
        {"type": "http", "url": webhook.url("/slow"), "timeout": 30},
    ]
    run = queued_run(make_workflow, alice, steps)

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.TIMEOUT)
    assert run.error == "steps[1] (http) stopped: the run went over its time limit"
    assert run.steps[1]["error"] == "stopped: the run went over its time limit"
    # The step waited for what was left of the run's second (the first step took a little of it).
    waited = re.fullmatch(r"no response within ([0-9.]+) s from (.+)", run.steps[1]["attempts"][0]["error"])
    assert waited is not None and waited[2] == webhook.url("/slow")
    assert 0.9 <= float(waited[1]) <= 1
    assert run.steps[0]["output"] == "cats"


def test_the_wait_before_a_retry_stops_at_the_run_time_limit(make_workflow, alice, webhook, allow_local, settings):
    settings.WORKFLOW_RUN_TIME_LIMIT = 2
    webhook.script("/hook", Reply(503, "busy", headers={"Retry-After": "30"}))
    run = queued_run(make_workflow, alice, [{"type": "http", "url": webhook.url(), "retries": 3}])

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.TIMEOUT)
    assert run.error == "steps[0] (http) stopped: the run went over its time limit"
    assert len(webhook.hits()) == 1
    assert run.steps[0]["attempts"][0]["retry_in_seconds"] == 30.0


def test_a_failed_step_has_reason_error(make_workflow, alice):
    run = queued_run(make_workflow, alice, [{"type": "python", "callable": "fail", "message": "no"}])

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.ERROR)


def test_a_python_callable_may_ask_to_be_retried(register_callable):
    calls = []

    def flaky(*, previous, input, step):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise StepMayRetry("render farm busy", retry_after=0)
        return "rendered"

    register_callable("flaky", flaky)

    result = DynamicWorkflowRunner([{"type": "python", "callable": "flaky", "retries": 2}]).run("x")

    assert result.output == "rendered"
    assert [(a["attempt"], a.get("error")) for a in result.steps[0]["attempts"]] == [
        (1, "render farm busy"),
        (2, "render farm busy"),
        (3, None),
    ]


def test_backoff_doubles_with_jitter_and_is_capped():
    for number, full in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, runner.BACKOFF_MAX), (10, runner.BACKOFF_MAX)]:
        waits = [runner._wait_before_retry(number, None) for _ in range(50)]
        assert all(full / 2 <= wait <= full for wait in waits), (number, waits)
        assert len(set(waits)) > 1  # jittered


@pytest.mark.parametrize(("retry_after", "wait"), [(0.0, 0.0), (7.0, 7.0), (3600.0, runner.RETRY_AFTER_MAX)])
def test_retry_after_is_honoured_up_to_a_cap(retry_after, wait):
    assert runner._wait_before_retry(1, retry_after) == wait


def test_an_output_too_large_to_keep_is_cut_and_the_run_says_so(make_workflow, alice, register_callable):
    register_callable("huge", lambda *, previous, input, step: "y" * (MAX_RUN_OUTPUT_BYTES + 100))
    run = queued_run(make_workflow, alice, [{"type": "python", "callable": "huge"}])

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.output_truncated is True
    assert run.output == '"' + "y" * (MAX_RUN_OUTPUT_BYTES - 1)  # the start of its JSON, as text
    assert run.steps[0]["output_truncated"] is True
    assert serializers.Run(run).data["output_truncated"] is True


def test_the_step_log_shares_one_output_budget(register_callable):
    half = "z" * (MAX_RUN_OUTPUT_BYTES // 2)
    register_callable("half", lambda *, previous, input, step: half)
    steps = [{"type": "python", "callable": "half"}] * 3

    result = DynamicWorkflowRunner(steps).run("x")

    assert result.steps[0]["output"] == half
    assert "output_truncated" not in result.steps[0]
    assert result.steps[1]["output_truncated"] is True
    assert result.steps[2]["output"] == ""  # nothing left of the budget
    assert result.output == half  # the run's own output has its own budget
    assert result.output_truncated is True


def test_a_small_run_is_not_marked_truncated(workflow):
    run = run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text="cats")

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.output_truncated is False
    assert serializers.Run(run).data["output_truncated"] is False
