"""POST /api/workflows creates the caller's workflow or replaces the one they already own."""

from workflows.models import Workflow

STEPS = [{"type": "template", "template": "Video about {{input}}"}, {"type": "python", "callable": "echo"}]


def test_it_creates_a_workflow(api, alice):
    response = api.post("/api/workflows", {"workflow_id": "wf-1", "name": "First", "steps": STEPS}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Workflow wf-1 saved successfully"
    assert body["workflow"]["workflow_id"] == "wf-1"
    assert body["workflow"]["name"] == "First"
    assert body["workflow"]["user_id"] == "alice-uuid"
    assert body["workflow"]["steps"] == STEPS
    stored = Workflow.objects.get(workflow_id="wf-1")
    assert stored.owner == alice
    assert stored.steps == STEPS


def test_the_name_is_optional(api):
    response = api.post("/api/workflows/", {"workflow_id": "wf-1", "steps": STEPS}, format="json")

    assert response.status_code == 200
    assert response.json()["workflow"]["name"] == ""


def test_it_replaces_a_workflow_the_caller_owns(api, alice):
    first = api.post("/api/workflows", {"workflow_id": "wf-1", "name": "Old", "steps": STEPS}, format="json").json()
    new_steps = [{"type": "python", "callable": "sleep", "seconds": 1}]

    response = api.post("/api/workflows", {"workflow_id": "wf-1", "name": "New", "steps": new_steps}, format="json")

    assert response.status_code == 200
    workflow = response.json()["workflow"]
    assert workflow["name"] == "New"
    assert workflow["steps"] == new_steps
    assert workflow["created_at"] == first["workflow"]["created_at"]
    assert workflow["updated_at"] > first["workflow"]["updated_at"]
    assert Workflow.objects.filter(workflow_id="wf-1").count() == 1


def test_it_refuses_an_id_owned_by_another_user_and_changes_nothing(client_for, bob, workflow):
    before = Workflow.objects.get(pk=workflow.pk)

    response = client_for(bob).post(
        "/api/workflows",
        {"workflow_id": workflow.workflow_id, "name": "Taken over", "steps": [{"type": "python", "callable": "fail"}]},
        format="json",
    )

    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert workflow.workflow_id in response.json()["detail"]
    after = Workflow.objects.get(pk=workflow.pk)
    assert (after.owner_id, after.name, after.steps, after.updated_at) == (
        before.owner_id,
        before.name,
        before.steps,
        before.updated_at,
    )


def test_the_saved_workflow_shows_up_in_the_list(api):
    api.post("/api/workflows", {"workflow_id": "wf-1", "steps": STEPS}, format="json")

    assert [w["workflow_id"] for w in api.get("/api/workflows").json()["workflows"]] == ["wf-1"]
