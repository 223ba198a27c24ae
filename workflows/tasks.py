from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery import shared_task, signals
from django.conf import settings
from django.db import connection

from vingine import concurrency

from . import dispatch, events, idempotency, maintenance, runs


# acks_late: a message is acknowledged when the run is over, so one a worker had taken but not yet
# started when the whole worker died is handed out again (after the broker's visibility timeout;
# the scheduler's sweeper sends it again sooner) rather than lost. run_execute claims the row by
# status first, so a second delivery of a run that did start does nothing: a run never executes
# twice. A run whose worker died under it ends failed as lost (maintenance.runs_reap_lost, and
# _run_ended_by_its_process below when only its pool process died).
# soft_time_limit raises SoftTimeLimitExceeded inside the run, which ends it failed/timeout;
# time_limit kills a pool process that ignored it.
@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=settings.WORKFLOW_RUN_TIME_LIMIT,
    time_limit=settings.WORKFLOW_RUN_TIME_LIMIT + settings.WORKFLOW_RUN_KILL_GRACE,
)
def execute_run(run_id: str) -> None:
    # One of the process's run slots, as for runs sent together (its wait for one, rare, counts
    # towards Celery's time limit).
    with concurrency.run_slot():
        runs.run_execute(run_id=run_id)


# Runs sent together (dispatch.RUNS_PER_MESSAGE to a message). On the gevent pool they run side by
# side, each in its own greenlet with the time limits execute_run has (runs.runs_execute), so the
# message needs none: acknowledged (acks_late) once all have ended. A worker that runs one run per
# process (prefork, solo, threads) sends each on as an execute_run message of its own instead, so
# that Celery's time limits, and the end of a pool process killed under a run, concern one run.
@shared_task(acks_late=True, ignore_result=True)
def execute_runs(run_ids: list[str]) -> None:
    if concurrency.gevent_patched():
        runs.runs_execute(run_ids=run_ids)
    else:
        dispatch.runs_send_one_by_one(run_ids)


@signals.task_failure.connect
def _run_ended_by_its_process(sender=None, exception=None, args=None, **kwargs) -> None:
    """The worker's main process saw the pool process running a run die (killed at the hard time
    limit, out of memory, kill -9): record the run's end now, not when the reaper comes by."""
    if getattr(sender, "name", None) != execute_run.name or not isinstance(
        exception, (TimeLimitExceeded, WorkerLostError)
    ):
        return
    try:
        runs.run_end_abruptly(run_id=args[0], timed_out=isinstance(exception, TimeLimitExceeded))
    finally:
        # The main process forks new pool processes: it keeps no database connection of its own.
        if not connection.in_atomic_block:
            connection.close()


# A worker tells its runs' events in the background, in batches (workflows.events); as the worker
# (gevent, solo) or one of its pool processes (prefork) stops, what is left goes out.
@signals.worker_init.connect
def _run_events_in_background(**kwargs) -> None:
    events.send_in_background()


# A gevent worker's concurrency counts its runs in flight, however many of them share a message.
@signals.worker_init.connect
def _limit_runs_in_flight(sender=None, **kwargs) -> None:
    if concurrency.gevent_patched() and isinstance(getattr(sender, "concurrency", None), int):
        concurrency.limit_runs_in_flight(sender.concurrency)


@signals.worker_shutdown.connect
@signals.worker_process_shutdown.connect
def _send_pending_run_events(**kwargs) -> None:
    events.send_pending()


# Sent by beat (CELERY_BEAT_SCHEDULE). Both are safe to run twice and from several beats at once.
@shared_task(ignore_result=True)
def reap_lost_runs() -> None:
    maintenance.runs_reap_lost()


@shared_task(ignore_result=True)
def trim_run_history() -> None:
    maintenance.runs_trim_history()
    idempotency.forget_expired()
