"""Secret header values are kept for the step to send, and never shown: not by the API, not in the
admin, not in a run's step log."""

import json

import pytest

from tests.webhooks import Reply
from workflows import serializers
from workflows.models import Run, Workflow
from workflows.runs import run_enqueue, run_execute

SECRETS = {
    "Authorization": "Bearer tok-123",
    "Cookie": "sid=cookie-456",
    "X-Api-Key": "key-789",
    "X-Webhook-Secret": "sec-000",
    "X-Auth-Token": "at-111",
    "Proxy-Authorization": "Basic pa-222",
    "X-Password": "pw-333",
}
PUBLIC = {"X-Trace": "trace-1", "Accept": "application/json"}


def http_step(url: str = "https://app.example.com/hook") -> dict:
    return {"type": "http", "url": url, "headers": {**SECRETS, **PUBLIC}, "body": {"t": "{{input}}"}}


def save(api, steps, workflow_id: str = "wf-secret"):
    return api.post("/api/workflows", {"workflow_id": workflow_id, "steps": steps}, format="json")


def assert_no_secret_in(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text


def test_the_api_shows_secret_headers_redacted_and_stores_them(api):
    saved = save(api, [http_step()])

    assert saved.status_code == 200, saved.json()
    for response in (saved, api.get("/api/workflows/wf-secret"), api.get("/api/workflows")):
        assert_no_secret_in(response.content.decode())
    shown = api.get("/api/workflows/wf-secret").json()["workflow"]["steps"][0]["headers"]
    assert shown == {**{name: "[redacted]" for name in SECRETS}, **PUBLIC}
    assert Workflow.objects.get().steps[0]["headers"] == {**SECRETS, **PUBLIC}


def test_saving_back_what_the_api_showed_keeps_the_stored_secrets(api):
    save(api, [http_step()])
    shown = api.get("/api/workflows/wf-secret").json()["workflow"]["steps"]
    shown[0]["headers"]["X-Trace"] = "trace-2"
    shown[0]["headers"]["x-api-key"] = shown[0]["headers"].pop("X-Api-Key")  # names match in any case

    response = save(api, shown)

    assert response.status_code == 200, response.json()
    headers = Workflow.objects.get().steps[0]["headers"]
    assert headers["X-Trace"] == "trace-2"
    assert headers["x-api-key"] == "key-789"
    assert headers["Authorization"] == "Bearer tok-123"


def test_a_redacted_value_is_only_restored_from_the_same_workflow(api, client_for, bob):
    save(api, [http_step()])
    shown = api.get("/api/workflows/wf-secret").json()["workflow"]["steps"]

    response = save(client_for(bob), shown, workflow_id="bobs-copy")

    assert response.status_code == 400
    assert "is '[redacted]' and there is no stored value to keep" in response.json()["detail"]


def test_the_admin_shows_secret_headers_redacted_and_saving_keeps_them(admin_client, make_workflow, alice):
    workflow = make_workflow(alice, "wf-secret", steps=[http_step()])
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"

    page = admin_client.get(url).content.decode()

    assert_no_secret_in(page)
    assert "[redacted]" in page
    shown = [{**http_step(), "headers": {**{n: "[redacted]" for n in SECRETS}, **PUBLIC}}]
    response = admin_client.post(url, {"workflow_id": "wf-secret", "name": "renamed", "steps": json.dumps(shown)})
    assert response.status_code == 302
    assert Workflow.objects.get(pk=workflow.pk).steps[0]["headers"] == {**SECRETS, **PUBLIC}


def test_a_view_only_operator_sees_secret_headers_redacted(client, make_user, make_workflow, alice):
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_workflow"))
    workflow = make_workflow(alice, "wf-secret", steps=[http_step()])
    client.force_login(viewer)

    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/")

    assert page.status_code == 200
    assert_no_secret_in(page.content.decode())
    assert "[redacted]" in page.content.decode()


@pytest.mark.usefixtures("allow_local")
def test_the_step_sends_the_secrets_and_the_run_never_records_them(make_workflow, alice, webhook, api):
    webhook.script("/hook", Reply(500, "again"), Reply(200, {"ok": True}))
    url = webhook.url() + "?token=tok-in-url&page=2"
    workflow = make_workflow(alice, "wf-secret", steps=[{**http_step(url), "retries": 1}])
    run = run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="cats")

    run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    for received in webhook.hits():
        assert {name: received.headers[name] for name in SECRETS} == SECRETS
    stored = json.dumps(serializers.Run(run).data)
    assert_no_secret_in(stored)
    assert "tok-in-url" not in stored
    assert run.steps[0]["attempts"][0]["url"].endswith("/hook?token=[redacted]&page=2")
    assert_no_secret_in(api.get(f"/api/runs/{run.id}").content.decode())
