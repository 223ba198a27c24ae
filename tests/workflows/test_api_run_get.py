"""GET /api/runs/{run_id}: a run is visible to its owner only."""

import uuid

from tests.conftest import RUN_FIELDS
from workflows.models import Run
from workflows.runs import run_enqueue


def queued_run(workflow, *, input_text: str = "tech news") -> Run:
    return run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text=input_text)


def test_it_returns_the_owners_run(api, workflow):
    run = queued_run(workflow)

    response = api.get(f"/api/runs/{run.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["run"]["run_id"] == str(run.id)
    assert body["run"]["workflow_id"] == workflow.workflow_id
    assert body["run"]["status"] == "queued"
    assert body["run"]["input_text"] == "tech news"


def test_the_run_object_has_every_field_of_the_contract(api, workflow):
    run = queued_run(workflow)

    fields = set(api.get(f"/api/runs/{run.id}/").json()["run"])

    assert RUN_FIELDS <= fields


def test_it_answers_403_for_another_users_run(client_for, bob, workflow):
    run = queued_run(workflow)

    response = client_for(bob).get(f"/api/runs/{run.id}")

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to access this run"}


def test_it_answers_404_for_an_unknown_run(api):
    run_id = uuid.uuid4()

    response = api.get(f"/api/runs/{run_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"Run {run_id} not found"}


def test_it_answers_404_for_an_id_that_is_not_a_uuid(api):
    response = api.get("/api/runs/not-a-uuid")

    assert response.status_code == 404
    assert response.json() == {"detail": "Run not-a-uuid not found"}


def test_an_operator_reads_anyones_run(client_for, operator, workflow):
    run = queued_run(workflow)

    assert client_for(operator).get(f"/api/runs/{run.id}").status_code == 200
