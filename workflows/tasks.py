from celery import shared_task
from django.conf import settings

from . import services


# acks_late: a message a worker had taken but not yet finished when it died is handed out again
# (reject_on_worker_lost: at once when a pool process dies; otherwise after the broker's
# visibility timeout) rather than lost. run_execute claims the row by status first, so a
# redelivery of a run that did start does nothing: a run never executes twice. The reaper
# fails such a run later (services.runs_reap_lost).
# soft_time_limit raises SoftTimeLimitExceeded inside the run, which ends it failed/timeout;
# time_limit kills a pool process that ignored it.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.WORKFLOW_RUN_TIME_LIMIT,
    time_limit=settings.WORKFLOW_RUN_TIME_LIMIT + settings.WORKFLOW_RUN_KILL_GRACE,
)
def execute_run(run_id: str) -> None:
    services.run_execute(run_id=run_id)


# Sent by beat (CELERY_BEAT_SCHEDULE). Both are safe to run twice and from several beats at once.
@shared_task(ignore_result=True)
def reap_lost_runs() -> None:
    services.runs_reap_lost()


@shared_task(ignore_result=True)
def trim_run_history() -> None:
    services.runs_trim_history()
