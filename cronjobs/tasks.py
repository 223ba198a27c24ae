from datetime import datetime

from celery import shared_task

from . import periodic_tasks, services


@shared_task(ignore_result=True)
def fire_job(job_id: str, fired_at: str | None = None) -> None:
    """Sent by the stock DatabaseScheduler for each due slot (our beat never sends it)."""
    periodic_tasks.job_fire(job_id=job_id, now=datetime.fromisoformat(fired_at) if fired_at else None)


@shared_task(ignore_result=True)
def pause_after_failures(job_pk: int) -> None:
    """Sent by the worker of a failed run of a job with pause_after_failures; safe to run twice."""
    services.job_pause_after_failures(job_pk=job_pk)
