from datetime import datetime

from celery import shared_task

from . import notifications, periodic_tasks, services


@shared_task(ignore_result=True)
def fire_job(job_id: str, fired_at: str | None = None) -> None:
    """Sent by the stock DatabaseScheduler for each due slot (our beat never sends it)."""
    periodic_tasks.job_fire(job_id=job_id, now=datetime.fromisoformat(fired_at) if fired_at else None)


@shared_task(ignore_result=True)
def job_run_ended(job_pk: int, run_id: str) -> None:
    """Sent by the worker of a run that succeeded or failed, for a job that pauses after failures
    or notifies (workflows.dispatch.send_outcome_check); safe to run twice."""
    services.job_run_ended(job_pk=job_pk)


@shared_task(bind=True, ignore_result=True, max_retries=notifications.MAX_RETRIES)
def deliver_notification(self, notification_id: int) -> None:
    """One notification to its destination, tried again with backoff (5 s, 10 s, ... at most
    5 min between tries) until it is delivered or MAX_RETRIES more tries have failed."""
    try:
        notifications.notification_deliver(notification_id=notification_id)
    except notifications.DeliveryFailed as exc:
        if self.request.retries >= self.max_retries:
            notifications.notification_give_up(notification_id=notification_id)
            return
        raise self.retry(countdown=min(5 * 2**self.request.retries, 300), exc=exc) from exc
