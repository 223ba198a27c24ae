"""GET /api/workflows lists the caller's workflows, and only theirs."""


def test_it_lists_only_the_callers_workflows(api, alice, bob, make_workflow):
    make_workflow(alice, "alice-b")
    make_workflow(alice, "alice-a")
    make_workflow(bob, "bob-a")

    response = api.get("/api/workflows")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "total_workflows", "workflows"}
    assert body["status"] == "success"
    assert body["total_workflows"] == 2
    assert [w["workflow_id"] for w in body["workflows"]] == ["alice-a", "alice-b"]
    assert {w["user_id"] for w in body["workflows"]} == {"alice-uuid"}


def test_it_lists_nothing_for_a_user_without_workflows(client_for, bob, workflow):
    body = client_for(bob).get("/api/workflows/").json()

    assert body == {"status": "success", "total_workflows": 0, "workflows": []}


def test_a_workflow_in_the_list_carries_its_definition(api, workflow):
    listed = api.get("/api/workflows").json()["workflows"][0]

    assert listed["workflow_id"] == workflow.workflow_id
    assert listed["name"] == workflow.name
    assert listed["steps"] == workflow.steps
    assert {"created_at", "updated_at"} <= set(listed)


def test_an_operator_lists_only_their_own_workflows_here(client_for, operator, workflow):
    body = client_for(operator).get("/api/workflows").json()

    assert body["total_workflows"] == 0
