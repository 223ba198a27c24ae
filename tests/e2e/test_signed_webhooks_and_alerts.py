"""On real worker and beat processes: the requests a scheduled run sends verify with the owner's
secret under an independent Standard Webhooks implementation, and a job that fails and recovers
notifies its URL once per transition, signed too."""

import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from cronjobs import schedules
from cronjobs import services as cron
from cronjobs.models import CronJob, Notification
from tests.webhooks import Reply
from workflows import signing

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e

SIGNED = ("webhook-id", "webhook-timestamp", "webhook-signature")


@pytest.fixture(scope="module")
def hook_worker(celery_env, tmp_path_factory):
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"), WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1")
    try:
        yield process
    finally:
        process.stop()


def test_a_failing_job_notifies_once_when_it_fails_and_once_when_it_recovers(
    transactional_db, hook_worker, beat, alice, make_workflow, webhook
):
    secret = signing.secret_get(owner=alice).secret
    # Three failed runs, then successes.
    webhook.script("/step", Reply(500, "down"), Reply(500, "down"), Reply(500, "down"), Reply(200, {"ok": True}))
    steps = [{"type": "http", "method": "POST", "url": webhook.url("/step"), "body": {"run": "{{input}}"}}]
    workflow = make_workflow(alice, "e2e-alerts", steps=steps)
    job = cron.job_upsert(
        caller=alice,
        job_id=f"e2e-{uuid.uuid4().hex[:12]}",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="cats",
        spec=schedules.interval_spec(seconds=1),
        notify={"url": webhook.url("/notify"), "after_consecutive_failures": 2},
    )

    wait_until(
        lambda: len(webhook.hits("/notify")) >= 2, timeout=60, what="two notifications", watch=(hook_worker, beat)
    )
    wait_until(lambda: len(webhook.hits("/step")) >= 8, timeout=30, what="more runs", watch=(hook_worker, beat))
    cron.job_pause(user=alice, job_id=job.job_id)

    notices = webhook.hits("/notify")
    bodies = [Webhook(secret).verify(n.body, {name: n.headers[name] for name in SIGNED}) for n in notices]
    assert [body["type"] for body in bodies] == ["job.failing", "job.recovered"]
    assert bodies[0]["consecutive_failures"] == 2 and bodies[0]["job_id"] == job.job_id
    assert list(Notification.objects.filter(job=job).values_list("status", flat=True)) == ["sent", "sent"]
    assert CronJob.objects.get(pk=job.pk).failing is False
    # Every request the runs sent is signed: each verifies with the owner's secret.
    for call in webhook.hits("/step"):
        Webhook(secret).verify(call.body, {name: call.headers[name] for name in SIGNED})
