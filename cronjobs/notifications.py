"""Telling people when a job starts failing and when it recovers: one notification per transition,
not one per failed run, to a URL (checked and signed as an http step's request is) and/or an e-mail
address (through Django's e-mail backend).

A job's worker reports each ended run (``cronjobs.tasks.job_run_ended``); ``on_outcome`` decides
from the job's newest runs whether a transition happened, and records one ``Notification`` per
destination. Each is delivered by its own task, retried with backoff, so a slow or broken
destination never holds up or fails a run.
"""

import time
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.core.validators import EmailValidator, ValidationError
from django.db import transaction
from django.utils import timezone

from vingine.celery import app
from vingine.errors import InvalidInput
from workflows import signing
from workflows.models import Run
from workflows.steps import http
from workflows.steps.base import StepContext, StepFailed

from .models import CronJob, Notification

DELIVER = "cronjobs.tasks.deliver_notification"
EVENTS = tuple(Notification.Event.values)
MAX_AFTER_FAILURES = 1000
HTTP_TIMEOUT = 10  # seconds for one delivery to a URL
MAX_RETRIES = 8  # tries after the first, over about 15 minutes
MAX_ERROR_CHARACTERS = 2000


class DeliveryFailed(Exception):
    """This try did not deliver; the task tries again later."""


def validated(notify: dict | None) -> dict | None:
    """The job's ``notify`` option with its defaults, or InvalidInput saying what to fix."""
    if notify is None:
        return None
    url, email = notify.get("url"), notify.get("email")
    if not url and not email:
        raise InvalidInput("notify needs a url, an email, or both")
    if url:
        problem = http.validate({"url": url})
        if problem:
            raise InvalidInput(f"notify: {problem}")
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            raise InvalidInput(f"notify: 'email' {email!r} is not an e-mail address") from None
    on = list(dict.fromkeys(notify.get("on") or EVENTS))
    unknown = [event for event in on if event not in EVENTS]
    if unknown:
        raise InvalidInput(f"notify: 'on' may hold {', '.join(EVENTS)}, not {', '.join(map(str, unknown))}")
    after = notify.get("after_consecutive_failures", 1)
    if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after <= MAX_AFTER_FAILURES:
        raise InvalidInput(
            f"notify: 'after_consecutive_failures' must be a whole number from 1 to {MAX_AFTER_FAILURES}"
        )
    return {"url": url or None, "email": email or None, "on": on, "after_consecutive_failures": after}


def on_outcome(job: CronJob, ended: list[tuple[Any, str, str]], streak: int) -> list[Notification]:
    """Record the notifications of the transition the job's newest ended runs make, if any.

    ``ended`` are (id, status, error) of its newest runs that succeeded or failed, newest first;
    ``streak`` how many of those in a row failed. Called with the job locked.
    """
    notify = job.notify
    if not notify or not ended:
        return []
    newest_id, newest_status, newest_error = ended[0]
    if not job.failing and streak >= notify["after_consecutive_failures"]:
        job.failing, event = True, Notification.Event.FAILURE
    elif job.failing and newest_status == Run.Status.SUCCEEDED:
        job.failing, event = False, Notification.Event.RECOVERY
    else:
        return []
    job.save(update_fields=["failing", "updated_at"])
    if event not in notify["on"]:
        return []
    body = _body(job, event, newest_id, newest_error if event == Notification.Event.FAILURE else "", streak)
    destinations = [(Notification.Channel.HTTP, notify["url"]), (Notification.Channel.EMAIL, notify["email"])]
    made = [
        Notification.objects.create(job=job, run_id=newest_id, event=event, channel=channel, target=target, body=body)
        for channel, target in destinations
        if target
    ]
    transaction.on_commit(lambda: [app.send_task(DELIVER, args=(n.pk,)) for n in made])
    return made


def _body(job: CronJob, event: str, run_id: Any, error: str, streak: int) -> dict:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return {
        "type": "job.failing" if event == Notification.Event.FAILURE else "job.recovered",
        "job_id": job.job_id,
        "workflow_id": job.workflow.workflow_id,
        "user_id": job.owner.username,
        "run_id": str(run_id),
        "error": error or None,
        "consecutive_failures": streak,
        "run_url": f"{base}/api/runs/{run_id}",
        "job_url": f"{base}/api/cron/jobs/{job.job_id}",
        "at": timezone.now().isoformat(),
    }


def notification_deliver(*, notification_id: int) -> None:
    """Deliver one pending notification; DeliveryFailed when this try did not (the error is kept).
    Safe to run twice: a notification already sent is left alone."""
    notification = Notification.objects.select_related("job").filter(pk=notification_id).first()
    if notification is None or notification.status != Notification.Status.PENDING:
        return
    try:
        if notification.channel == Notification.Channel.HTTP:
            _post(notification)
        else:
            _mail(notification)
    except Exception as exc:  # any failure of this try is retried; what it was is kept
        Notification.objects.filter(pk=notification.pk).update(
            attempts=notification.attempts + 1, last_error=str(exc)[:MAX_ERROR_CHARACTERS]
        )
        raise DeliveryFailed(str(exc)) from exc
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, sent_at=timezone.now(), attempts=notification.attempts + 1
    )


def notification_give_up(*, notification_id: int) -> None:
    Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(
        status=Notification.Status.FAILED
    )


def _post(notification: Notification) -> None:
    """POST the body to the URL as an http step would: the destination checked, the request signed
    with the job owner's secret (webhook-id ``ntf_<id>``, the same on every try)."""
    step = {"type": "http", "method": "POST", "url": notification.target, "body": notification.body}
    context = StepContext(
        attempt={},
        deadline=time.monotonic() + HTTP_TIMEOUT,
        webhook_id=f"ntf_{notification.pk}",
        signing_keys=signing.owner_keys(notification.job.owner_id),
    )
    try:
        # Each placeholder stands for itself: a run's error quoting "{{input}}" is sent as it is.
        http.run(step, "{{previous}}", "{{input}}", context)
    except StepFailed as exc:
        raise DeliveryFailed(str(exc)) from exc


def _mail(notification: Notification) -> None:
    body = notification.body
    if body["type"] == "job.failing":
        subject = f"Job {body['job_id']} is failing"
        text = (
            f"Job {body['job_id']} failed {body['consecutive_failures']} times in a row.\n\nLast error: {body['error']}"
        )
    else:
        subject = f"Job {body['job_id']} recovered"
        text = f"Job {body['job_id']} succeeded again."
    text += f"\n\nRun: {body['run_url']}\nJob: {body['job_url']}\n"
    send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [notification.target])
