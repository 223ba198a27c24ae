"""GET /api/workflows/{workflow_id}: the owner (or an operator) reads it; others get 403, unknown ids 404."""


def test_it_returns_the_callers_workflow(api, workflow):
    response = api.get(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["workflow"]["workflow_id"] == workflow.workflow_id
    assert body["workflow"]["user_id"] == "alice-uuid"
    assert body["workflow"]["steps"] == workflow.steps


def test_it_accepts_a_trailing_slash(api, workflow):
    assert api.get(f"/api/workflows/{workflow.workflow_id}/").status_code == 200


def test_it_answers_404_for_an_unknown_workflow(api):
    response = api.get("/api/workflows/no-such-workflow")

    assert response.status_code == 404
    assert response.json() == {"detail": "Workflow no-such-workflow not found"}


def test_it_answers_403_for_another_users_workflow(client_for, bob, workflow):
    response = client_for(bob).get(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to access this workflow"}


def test_an_operator_reads_anyones_workflow(client_for, operator, workflow):
    response = client_for(operator).get(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 200
    assert response.json()["workflow"]["user_id"] == "alice-uuid"
