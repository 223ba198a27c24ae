from celery import shared_task

from . import services


# acks_late: a message a worker had taken but not yet started when it died is redelivered rather
# than lost. run_execute claims the row by status first, so a redelivery of a run that did start
# does nothing: a run never executes twice.
@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    services.run_execute(run_id=run_id)
