from datetime import datetime

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def fire_job(job_id: str, fired_at: str | None = None) -> None:
    """Sent by beat for each due slot; records the run and hands it to ``execute_run``."""
    services.job_fire(job_id=job_id, now=datetime.fromisoformat(fired_at) if fired_at else None)
