from datetime import datetime

from celery import shared_task

from . import periodic_tasks


@shared_task(ignore_result=True)
def fire_job(job_id: str, fired_at: str | None = None) -> None:
    """Sent by the stock DatabaseScheduler for each due slot (our beat never sends it)."""
    periodic_tasks.job_fire(job_id=job_id, now=datetime.fromisoformat(fired_at) if fired_at else None)
