"""Every http request a run sends is signed per Standard Webhooks with its owner's secret: checked
here by the standardwebhooks package from PyPI, an implementation that is not ours."""

import base64
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.webhooks import Reply
from workflows import signing
from workflows.models import Run, SigningSecret
from workflows.runs import run_execute

pytestmark = pytest.mark.django_db


def deliver(make_workflow, owner, webhook, steps, workflow_id="signed") -> Run:
    workflow = make_workflow(owner, workflow_id, steps=steps)
    run = Run.objects.create(workflow=workflow, owner=owner, trigger=Run.Trigger.MANUAL, input_text="cats")
    run_execute(run_id=run.id)
    run.refresh_from_db()
    return run


def signed_headers(received) -> dict:
    return {name: received.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}


POST = {"type": "http", "method": "POST", "body": {"topic": "{{input}}"}}


def test_the_secret_is_made_on_first_use_kept_encrypted_and_each_users_own(api, client_for, alice, bob):
    first = api.get("/api/signing-secret")

    assert first.status_code == 200
    secret = first.json()["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert first.json()["previous_expires_at"] is None
    assert api.get("/api/signing-secret").json()["secret"] == secret
    stored = SigningSecret.objects.get(owner=alice)
    assert secret not in stored.secret and secret.removeprefix("whsec_") not in stored.secret
    assert client_for(bob).get("/api/signing-secret").json()["secret"] != secret


def test_a_delivery_verifies_with_the_owners_secret_and_nothing_else(api, alice, make_workflow, webhook, allow_local):
    secret = api.get("/api/signing-secret").json()["secret"]
    run = deliver(make_workflow, alice, webhook, [{**POST, "url": webhook.url("/hook")}])

    assert run.status == Run.Status.SUCCEEDED
    [received] = webhook.hits("/hook")
    headers = signed_headers(received)
    assert Webhook(secret).verify(received.body, headers) == {"topic": "cats"}
    assert headers["webhook-id"] == f"msg_{run.id.hex}_0"
    # A tampered body, another secret, an old timestamp: refused.
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(json.dumps({"topic": "dogs"}), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(received.body, headers)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(received.body, stale)


def test_a_request_without_a_body_is_signed_too_and_a_secret_is_made_for_it(alice, make_workflow, webhook, allow_local):
    run = deliver(make_workflow, alice, webhook, [{"type": "http", "method": "GET", "url": webhook.url("/hook")}])

    assert run.status == Run.Status.SUCCEEDED
    secret = SigningSecret.objects.get(owner=alice)  # made by the run: the user never asked for it
    [received] = webhook.hits("/hook")
    Webhook(signing.decrypt(secret.secret)).verify(b"", signed_headers(received), json_parse=False)


def test_retries_of_one_step_keep_its_message_id_and_each_step_has_its_own(alice, make_workflow, webhook, allow_local):
    webhook.script("/flaky", Reply(503, "warming up"), Reply(200, {"ok": True}))
    steps = [{**POST, "url": webhook.url("/flaky"), "retries": 1}, {**POST, "url": webhook.url("/next")}]

    run = deliver(make_workflow, alice, webhook, steps)

    assert run.status == Run.Status.SUCCEEDED
    ids = [call.headers["webhook-id"] for call in webhook.hits("/flaky")]
    assert ids == [f"msg_{run.id.hex}_0"] * 2
    assert webhook.hits("/next")[0].headers["webhook-id"] == f"msg_{run.id.hex}_1"


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(api, alice, make_workflow, webhook, allow_local):
    old = api.get("/api/signing-secret").json()["secret"]
    rotated = api.post("/api/signing-secret/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old
    until = rotated.json()["previous_expires_at"]
    assert until is not None
    assert abs((timezone.datetime.fromisoformat(until) - timezone.now()) - timedelta(hours=24)) < timedelta(minutes=1)

    deliver(make_workflow, alice, webhook, [{**POST, "url": webhook.url("/during")}], "during")
    [during] = webhook.hits("/during")
    assert len(signed_headers(during)["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(during.body, signed_headers(during))

    SigningSecret.objects.filter(owner=alice).update(previous_until=timezone.now() - timedelta(seconds=1))
    deliver(make_workflow, alice, webhook, [{**POST, "url": webhook.url("/after")}], "after")
    [after] = webhook.hits("/after")
    Webhook(new).verify(after.body, signed_headers(after))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, signed_headers(after))
    assert api.get("/api/signing-secret").json()["previous_expires_at"] is None


def test_a_step_cannot_forge_the_signature_headers(api, alice, make_workflow, webhook, allow_local):
    secret = api.get("/api/signing-secret").json()["secret"]
    forged = {"webhook-id": "mine", "webhook-signature": "v1,forged", "webhook-timestamp": "1"}
    deliver(make_workflow, alice, webhook, [{**POST, "url": webhook.url("/hook"), "headers": forged}])

    [received] = webhook.hits("/hook")
    assert received.headers["webhook-id"] != "mine"
    Webhook(secret).verify(received.body, signed_headers(received))


def test_a_run_whose_secret_cannot_be_decrypted_ends_failed_and_sends_nothing(
    api, alice, make_workflow, webhook, allow_local, settings
):
    api.get("/api/signing-secret")  # stored, encrypted with the key of the time
    settings.SECRETS_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()  # the key changed since

    run = deliver(make_workflow, alice, webhook, [{**POST, "url": webhook.url("/hook")}])

    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.ERROR)
    assert "could not be signed" in run.error and "SECRETS_ENCRYPTION_KEY" in run.error
    assert run.finished_at is not None
    assert webhook.hits("/hook") == []
