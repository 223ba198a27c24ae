from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def fire_job(job_id: str) -> None:
    """Sent by beat for each due slot; records the run and hands it to ``execute_run``."""
    services.job_fire(job_id=job_id)
