"""Bob against alice's ids, on every operation the OpenAPI schema lists: refused, and nothing changes.

The operations come from the live schema, so an endpoint added later is covered without editing
this file: any operation with a ``job_id``, ``workflow_id`` or ``run_id`` in its path is called by
bob with each of alice's ids, and any request body with such a field (or ``user_id``) is sent with
alice's value in it. Every answer must be 403 or 404 in the error shape, and every row in the
database (alice's above all) must be exactly as before.
"""

import re

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs import services as cron
from tests.snapshots import owned_by, snapshot
from workflows.models import Run

ID_PARAMETERS = ("job_id", "workflow_id", "run_id")
BODY_ID_FIELDS = ("job_id", "workflow_id", "user_id")
BOB_IDS = {"job_id": "bob-job", "workflow_id": "bob-workflow", "user_id": "bob-uuid"}


@pytest.fixture
def schema(client_for, db) -> dict:
    response = client_for().get("/api/schema?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def sample(schema: dict, node: dict):
    """A small valid-looking value for a JSON schema: an example's shape without its meaning."""
    node = resolve(schema, node)
    for combinator in ("oneOf", "anyOf", "allOf"):
        if combinator in node:
            return sample(schema, node[combinator][0])
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {
            name: sample(schema, sub)
            for name, sub in node.get("properties", {}).items()
            if name in node.get("required", [])
        }
    if kind == "array":
        return []
    if kind == "integer":
        return max(node.get("minimum", 1), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return "x"


def request_body(schema: dict, operation: dict) -> dict | None:
    """The operation's first documented example if it has one, else a body of its required fields."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None
    for example in content.get("examples", {}).values():
        return dict(example["value"])
    return sample(schema, content["schema"])


@pytest.fixture
def world(make_user, make_workflow, make_job):
    """Alice with a workflow, a running cron job, a paused interval job and runs; bob with a workflow."""
    alice, bob = make_user("alice-uuid"), make_user("bob-uuid")
    workflow = make_workflow(alice)
    make_workflow(bob, "bob-workflow")
    job = make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), job_id="daily-video-generation")
    paused = make_job(workflow, schedules.interval_spec(hours=1, minutes=30), job_id="hourly-video-check")
    cron.job_pause(user=alice, job_id=paused.job_id)
    now = timezone.now()
    job_run = Run.objects.create(
        workflow=workflow,
        owner=alice,
        job=job,
        trigger=Run.Trigger.SCHEDULE,
        scheduled_for=now,
        status=Run.Status.SUCCEEDED,
        started_at=now,
        finished_at=now,
        output="done",
    )
    manual_run = Run.objects.create(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="x")
    return {
        "alice": alice,
        "bob": bob,
        "ids": {
            "job_id": [job.job_id, paused.job_id],
            "workflow_id": [workflow.workflow_id],
            "run_id": [str(job_run.id), str(manual_run.id)],
        },
    }


def send(client, method: str, url: str, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def assert_refused(response) -> None:
    assert response.status_code in (403, 404), (response.status_code, response.content[:300])
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"], body


def test_every_operation_on_alices_ids_is_refused_to_bob(client_for, schema, world):
    bob_api, alice_api = client_for(world["bob"]), client_for(world["alice"])
    alice_before = owned_by(world["alice"])
    before = snapshot()
    called = []

    for path, method, operation in operations(schema):
        names = re.findall(r"{(\w+)}", path)
        id_names = [name for name in names if name in ID_PARAMETERS]
        if not id_names:
            continue
        assert names == id_names, f"{path}: a path parameter this test does not know how to fill"
        for value in world["ids"][id_names[0]]:
            url = path.replace(f"{{{id_names[0]}}}", value)
            body = request_body(schema, operation)
            response = send(bob_api, method, url, body)
            assert_refused(response)
            called.append(operation["operationId"])
            if method == "get":
                # The same call as alice reaches a real row: bob was refused the row, not the URL.
                assert send(alice_api, method, url, body).status_code == 200, url

    assert snapshot() == before
    assert owned_by(world["alice"]) == alice_before
    # Guards against a schema that lost its operations (the loop would then prove nothing).
    expected = {"jobs_get", "jobs_delete", "jobs_pause", "jobs_resume", "jobs_runs", "jobs_trigger", "runs_get"}
    expected |= {"workflows_get", "workflows_delete", "workflows_run"}
    assert expected <= set(called), expected - set(called)


def test_every_body_naming_alices_ids_is_refused_to_bob(client_for, schema, world):
    bob_api = client_for(world["bob"])
    alice_ids = {
        "job_id": world["ids"]["job_id"][0],
        "workflow_id": world["ids"]["workflow_id"][0],
        "user_id": "alice-uuid",
    }
    alice_before = owned_by(world["alice"])
    before = snapshot()
    called = []

    for path, method, operation in operations(schema):
        if "{" in path or path.startswith("/api/auth/"):
            continue  # ids in the path: the test above; the auth endpoints take credentials, not ids
        body = request_body(schema, operation)
        if not isinstance(body, dict):
            continue
        fields = [name for name in BODY_ID_FIELDS if name in body]
        for field in fields:
            # Bob's own ids everywhere but in this one field, which names alice's.
            attempt = {**body, **{name: BOB_IDS[name] for name in fields}, field: alice_ids[field]}
            response = send(bob_api, method, path, attempt)
            assert_refused(response)
            called.append((operation["operationId"], field))

    assert snapshot() == before
    assert owned_by(world["alice"]) == alice_before
    expected = {(op, field) for op in ("jobs_create_cron", "jobs_create_interval") for field in BODY_ID_FIELDS}
    expected.add(("workflows_save", "workflow_id"))
    assert expected <= set(called), expected - set(called)


@pytest.mark.parametrize("query", ["", "?user_id=alice-uuid", "?owner=alice-uuid&limit=1000"])
def test_no_list_shows_bob_anything_of_alices(client_for, schema, world, query):
    bob_api = client_for(world["bob"])
    secrets = ["alice-uuid", *[value for values in world["ids"].values() for value in values]]
    before = snapshot()
    listed = 0

    for path, method, operation in operations(schema):
        if method != "get" or "{" in path or path.startswith("/api/auth/"):
            continue
        # The largest page each list documents (run lists stop at 500).
        limits = [p["schema"]["maximum"] for p in operation.get("parameters", ()) if p["name"] == "limit"]
        response = bob_api.get(path + query.replace("limit=1000", f"limit={min([1000, *limits])}"))
        assert response.status_code in (200, 403), (path, response.status_code, response.content[:300])
        text = response.content.decode()
        leaked = [value for value in secrets if value in text]
        assert not leaked, (path, leaked)
        listed += 1

    assert listed >= 3  # jobs, jobs/all, workflows
    assert snapshot() == before
