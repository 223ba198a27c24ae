"""A job's notify option: one notification when the job starts failing and one when it recovers,
delivered to a URL (checked and signed as http steps are) and by e-mail, retried, never failing a run."""

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from cronjobs import notifications, services
from cronjobs.models import CronJob, Notification
from tests.webhooks import Reply
from workflows.models import Run

from .helpers import db_snapshot, post_interval

pytestmark = pytest.mark.django_db


def ended(job: CronJob, status: str, error: str = "") -> Run:
    run = Run.objects.create(
        workflow=job.workflow,
        owner=job.owner,
        job=job,
        trigger="manual",
        status=status,
        error=error,
        finished_at=timezone.now(),
    )
    services.job_run_ended(job_pk=job.pk)
    return run


@pytest.fixture
def watched(api, workflow, webhook) -> CronJob:
    notify = {"url": webhook.url("/notify"), "email": "ops@example.com", "after_consecutive_failures": 2}
    response = post_interval(api, seconds=30, notify=notify)
    assert response.status_code == 200, response.json()
    return CronJob.objects.get()


def test_the_job_shows_its_notify_option_with_its_defaults(api, watched, webhook):
    shown = api.get(f"/api/cron/jobs/{watched.job_id}").json()["job"]

    assert shown["notify"] == {
        "url": webhook.url("/notify"),
        "email": "ops@example.com",
        "on": ["failure", "recovery"],
        "after_consecutive_failures": 2,
    }
    assert shown["failing"] is False


@pytest.mark.parametrize(
    ("notify", "detail"),
    [
        ({}, "notify needs a url, an email, or both"),
        ({"url": "ftp://example.com/x"}, "notify: 'url' must start with http:// or https://"),
        ({"url": "https://user:pw@example.com/"}, "notify: 'url' must not carry a user name or password"),
        ({"email": "not-an-address"}, "notify: 'email' 'not-an-address' is not an e-mail address"),
        ({"email": "a@example.com", "on": ["never"]}, "on"),
        ({"email": "a@example.com", "after_consecutive_failures": 0}, "after_consecutive_failures"),
        ({"email": "a@example.com", "after_consecutive_failures": "2"}, "after_consecutive_failures"),
    ],
)
def test_a_notify_option_that_cannot_work_is_refused_and_nothing_is_written(api, workflow, notify, detail):
    before = db_snapshot()

    response = post_interval(api, seconds=30, notify=notify)

    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert db_snapshot() == before


def test_one_notification_per_transition_not_per_failed_run(watched):
    ended(watched, "failed", "boom 1")
    assert not Notification.objects.exists()

    failing = ended(watched, "failed", "boom 2")
    ended(watched, "failed", "boom 3")

    made = list(Notification.objects.order_by("pk"))
    assert [(n.event, n.channel, n.run_id) for n in made] == [
        ("failure", "http", failing.id),
        ("failure", "email", failing.id),
    ]
    assert made[0].body["error"] == "boom 2" and made[0].body["consecutive_failures"] == 2
    assert made[0].body["run_url"].endswith(f"/api/runs/{failing.id}")
    assert CronJob.objects.get(pk=watched.pk).failing is True

    recovered = ended(watched, "succeeded")
    ended(watched, "succeeded")

    events = list(Notification.objects.order_by("pk").values_list("event", "run_id"))
    assert events[2:] == [("recovery", recovered.id), ("recovery", recovered.id)]
    assert len(events) == 4
    assert CronJob.objects.get(pk=watched.pk).failing is False


def test_only_the_chosen_transitions_are_told(api, workflow):
    notify = {"email": "ops@example.com", "on": ["recovery"]}
    assert post_interval(api, seconds=30, notify=notify).status_code == 200
    job = CronJob.objects.get()

    ended(job, "failed")
    assert not Notification.objects.exists()
    ended(job, "succeeded")

    assert list(Notification.objects.values_list("event", flat=True)) == ["recovery"]


def test_a_url_gets_a_signed_post_that_names_the_job_run_and_error(api, watched, webhook, allow_local):
    secret = api.get("/api/signing-secret").json()["secret"]
    ended(watched, "failed")
    run = ended(watched, "failed", "steps[0] (http) failed: HTTP 500 {{input}}")
    http = Notification.objects.get(channel="http")

    notifications.notification_deliver(notification_id=http.pk)

    [received] = webhook.hits("/notify")
    headers = {name: received.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    body = Webhook(secret).verify(received.body, headers)
    assert headers["webhook-id"] == f"ntf_{http.pk}"
    assert {key: body[key] for key in ("type", "job_id", "run_id", "error", "consecutive_failures")} == {
        "type": "job.failing",
        "job_id": watched.job_id,
        "run_id": str(run.id),
        "error": "steps[0] (http) failed: HTTP 500 {{input}}",
        "consecutive_failures": 2,
    }
    http.refresh_from_db()
    assert (http.status, http.attempts) == ("sent", 1) and http.sent_at is not None


def test_an_email_goes_through_djangos_backend(watched):
    ended(watched, "failed")
    ended(watched, "failed", "boom")
    email = Notification.objects.get(channel="email")

    notifications.notification_deliver(notification_id=email.pk)

    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == f"Job {watched.job_id} is failing"
    assert "Last error: boom" in message.body and f"/api/runs/{email.run_id}" in message.body
    assert Notification.objects.get(pk=email.pk).status == "sent"
    notifications.notification_deliver(notification_id=email.pk)  # safe twice: nothing more is sent
    assert len(mail.outbox) == 1


def test_a_failed_delivery_is_kept_for_a_retry_and_given_up_at_last(watched, webhook, allow_local):
    webhook.script("/notify", Reply(500, "down"))
    ended(watched, "failed")
    ended(watched, "failed")
    http = Notification.objects.get(channel="http")

    with pytest.raises(notifications.DeliveryFailed):
        notifications.notification_deliver(notification_id=http.pk)

    http.refresh_from_db()
    assert (http.status, http.attempts) == ("pending", 1)
    assert "HTTP 500" in http.last_error
    notifications.notification_give_up(notification_id=http.pk)
    assert Notification.objects.get(pk=http.pk).status == "failed"


def test_a_url_our_network_forbids_is_not_called(watched):
    # allow_local not given: 127.0.0.1 is refused, as for an http step.
    ended(watched, "failed")
    ended(watched, "failed")
    http = Notification.objects.get(channel="http")

    with pytest.raises(notifications.DeliveryFailed, match="loopback"):
        notifications.notification_deliver(notification_id=http.pk)


def test_the_owner_reads_what_was_sent_and_nobody_else(api, bob_api, watched):
    ended(watched, "failed")
    ended(watched, "failed")

    listed = api.get(f"/api/cron/jobs/{watched.job_id}/notifications")

    assert listed.status_code == 200
    assert [(n["event"], n["channel"], n["status"]) for n in listed.json()["notifications"]] == [
        ("failure", "email", "pending"),
        ("failure", "http", "pending"),
    ]
    assert bob_api.get(f"/api/cron/jobs/{watched.job_id}/notifications").status_code == 403
