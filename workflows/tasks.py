from celery import shared_task

from . import services


# acks_late: a worker that dies mid-run leaves the message to be redelivered; run_execute claims
# the row by status first, so the redelivery never runs a run twice.
@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    services.run_execute(run_id=run_id)
