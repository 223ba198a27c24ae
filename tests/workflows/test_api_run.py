"""POST /api/workflows/{workflow_id}/run queues a manual run and hands it to a worker after commit."""

from workflows.models import Run

from .conftest import published_tasks


def test_it_queues_a_manual_run(api, alice, workflow):
    response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "tech news"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "run"}
    assert body["status"] == "success"
    run = body["run"]
    assert run["status"] == "queued"
    assert run["trigger"] == "manual"
    assert run["workflow_id"] == workflow.workflow_id
    assert run["user_id"] == "alice-uuid"
    assert run["job_id"] is None
    assert run["input_text"] == "tech news"
    assert run["started_at"] is None
    assert run["finished_at"] is None
    assert run["output"] is None
    assert run["error"] is None
    stored = Run.objects.get(id=run["run_id"])
    assert (stored.owner, stored.workflow, stored.status) == (alice, workflow, Run.Status.QUEUED)


def test_the_input_is_optional(api, workflow):
    response = api.post(f"/api/workflows/{workflow.workflow_id}/run/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["run"]["input_text"] == ""


def test_it_keeps_the_input_as_sent(api, workflow):
    response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "  padded\n"}, format="json")

    assert response.json()["run"]["input_text"] == "  padded\n"


def test_it_publishes_the_run_only_after_the_transaction_commits(
    api, workflow, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json")
    assert published_tasks(broker) == []

    for callback in callbacks:
        callback()

    assert published_tasks(broker) == [("workflows.tasks.execute_run", [response.json()["run"]["run_id"]])]


def test_it_refuses_to_run_another_users_workflow(client_for, bob, workflow):
    response = client_for(bob).post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to run this workflow"}
    assert not Run.objects.exists()


def test_it_answers_404_for_an_unknown_workflow(api):
    response = api.post("/api/workflows/no-such-workflow/run", {"input": "x"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Workflow no-such-workflow not found"}


def test_it_rejects_an_input_that_is_not_a_string(api, workflow):
    response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": {"topic": "x"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "input: must be a string."}
    assert not Run.objects.exists()


def test_it_rejects_an_input_over_64_kib(api, workflow):
    response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x" * (64 * 1024 + 1)}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("input: ")
    assert not Run.objects.exists()


def test_an_operator_runs_anyones_workflow_as_its_owner(client_for, operator, alice, workflow):
    response = client_for(operator).post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json")

    assert response.status_code == 200
    assert response.json()["run"]["user_id"] == "alice-uuid"
