"""POST /api/runs/{run_id}/cancel and /rerun, and the admin's bulk cancel: what ends at once, what is
left for the worker, and what is refused."""

import threading
import time

import pytest
from django.db import connection

from tests.webhooks import Reply
from workflows.models import Run
from workflows.runs import run_enqueue, run_execute

from .conftest import published_tasks, queued_run_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(django_capture_on_commit_callbacks):
    """Queue a manual run, its message sent as its transaction would commit."""

    def queue(workflow, input_text: str = "x") -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            return run_enqueue(
                workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text=input_text
            )

    return queue


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """A block whose commit hooks run (a cancel hands held runs over once it commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_queued_run_ends_cancelled_at_once_and_its_message_does_nothing(manual, api, alice, workflow, broker):
    run = manual(workflow)

    response = api.post(f"/api/runs/{run.id}/cancel")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == f"Run {run.id} cancelled"
    shown = body["run"]
    assert (shown["status"], shown["cancelled_by"]) == ("cancelled", alice.username)
    assert shown["cancelled_at"] is not None and shown["finished_at"] is not None
    assert shown["error"] == f"Cancelled by {alice.username} before it started"
    # Its message was sent when it was queued; when a worker gets it, nothing runs.
    assert [args for _, args in published_tasks(broker)] == [[str(run.id)]]
    assert run_execute(run_id=run.id) is None
    run.refresh_from_db()
    assert (run.status, run.started_at, run.steps) == (Run.Status.CANCELLED, None, [])


def test_a_run_that_ended_answers_409_and_is_left_as_it_was(manual, api, workflow, broker):
    run = manual(workflow)
    run_execute(run_id=run.id)
    run.refresh_from_db()

    response = api.post(f"/api/runs/{run.id}/cancel")

    assert response.status_code == 409
    assert response.json()["detail"] == f"Run {run.id} already ended (succeeded); there is nothing to cancel"
    after = Run.objects.get(id=run.id)
    assert (after.status, after.cancelled_at, after.cancelled_by) == (Run.Status.SUCCEEDED, None, None)


def test_cancelling_a_held_run_ends_it_and_frees_nothing_it_did_not_hold(manual, api, workflow, broker, settings):
    settings.RUN_MAX_CONCURRENT_PER_USER = 1
    first, held = manual(workflow, "1"), manual(workflow, "2")
    assert held.wait_reason == Run.WaitReason.CONCURRENCY_LIMIT

    assert api.post(f"/api/runs/{held.id}/cancel").status_code == 200

    held.refresh_from_db()
    assert (held.status, held.wait_reason, held.published_at) == (Run.Status.CANCELLED, "", None)
    first.refresh_from_db()
    assert first.status == Run.Status.QUEUED


def test_cancelling_a_handed_over_run_hands_a_held_one_over_in_its_place(
    manual, committing, api, workflow, broker, settings
):
    settings.RUN_MAX_CONCURRENT_PER_USER = 1
    first, held = manual(workflow, "1"), manual(workflow, "2")

    with committing():
        assert api.post(f"/api/runs/{first.id}/cancel").status_code == 200

    held.refresh_from_db()
    assert (held.wait_reason, held.published_at is not None) == ("", True)
    assert str(held.id) in queued_run_ids(broker)


@pytest.mark.django_db(transaction=True)  # the run executes in a thread, on its own connection
def test_a_running_run_is_stopped_by_its_worker_before_its_next_step(
    manual, api, alice, make_workflow, webhook, allow_local, broker
):
    # In this process steps run in a thread (as on the prefork pool): the step in flight ends, and
    # the run stops before the next one.
    webhook.script("/slow", Reply(delay=2.0))
    steps = [
        {"type": "http", "method": "GET", "url": webhook.url("/slow")},
        {"type": "http", "method": "GET", "url": webhook.url("/after")},
    ]
    run = manual(make_workflow(alice, "slow-then-after", steps=steps))

    def execute() -> None:
        try:
            run_execute(run_id=run.id)
        finally:
            connection.close()  # the thread's own

    worker = threading.Thread(target=execute)
    worker.start()
    deadline = time.monotonic() + 10
    while not webhook.hits("/slow") and time.monotonic() < deadline:
        time.sleep(0.05)

    response = api.post(f"/api/runs/{run.id}/cancel")

    assert response.status_code == 200
    assert response.json()["message"] == f"Run {run.id} is being stopped: it ends cancelled within about a second"
    assert response.json()["run"]["status"] == "running"
    worker.join(timeout=15)
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert run.error == "Cancelled before steps[1] (http) started"
    assert [step["index"] for step in run.steps] == [0]
    assert webhook.hits("/after") == []
    assert run.cancelled_by == alice


def test_operators_cancel_runs_in_bulk_from_the_admin(manual, admin_client, workflow, broker):
    runs = [manual(workflow, str(i)) for i in range(2)]
    ended = manual(workflow, "ended")
    run_execute(run_id=ended.id)

    response = admin_client.post(
        "/admin/workflows/run/",
        {"action": "cancel_runs", "_selected_action": [str(run.id) for run in [*runs, ended]]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 queued run(s) cancelled, 0 running run(s) being stopped." in response.content.decode()
    assert [Run.objects.get(id=run.id).status for run in runs] == [Run.Status.CANCELLED] * 2
    assert Run.objects.get(id=ended.id).status == Run.Status.SUCCEEDED


def test_a_rerun_repeats_the_run_and_leaves_it_untouched(manual, committing, api, workflow, broker):
    run = manual(workflow, "the input")
    run_execute(run_id=run.id)
    run.refresh_from_db()

    with committing():
        response = api.post(f"/api/runs/{run.id}/rerun")

    assert response.status_code == 200
    again = response.json()["run"]
    assert again["run_id"] != str(run.id)
    assert (again["trigger"], again["rerun_of"], again["input_text"], again["status"]) == (
        "rerun",
        str(run.id),
        "the input",
        "queued",
    )
    assert Run.objects.get(id=run.id).status == Run.Status.SUCCEEDED
    assert str(again["run_id"]) in queued_run_ids(broker)


def test_another_users_run_cannot_be_cancelled_or_rerun(manual, bob_api_client, workflow, broker):
    run = manual(workflow)

    for action in ("cancel", "rerun"):
        response = bob_api_client.post(f"/api/runs/{run.id}/{action}")
        assert response.status_code == 403
        assert response.json()["detail"] == f"You don't have permission to {action} this run"
    assert Run.objects.count() == 1
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.cancelled_at is None


@pytest.fixture
def bob_api_client(client_for, bob):
    return client_for(bob)
