"""A run's life: recorded queued, claimed by one worker, executed, its outcome recorded; cancelled
or run again on request.

Handing the run to a worker is ``dispatch``'s; stopping a running one is ``cancellation``'s;
failing runs whose worker died and trimming old history is ``maintenance``'s.
"""

import functools
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis
from billiard.exceptions import TimeLimitExceeded
from django import db
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from vingine import heartbeat
from vingine.concurrency import hard_time_limit, run_slot, side_by_side, soft_time_limit
from vingine.errors import Conflict, QueueUnavailable
from vingine.sql import lock_row_key, release_connection

from . import cancellation, dispatch, events, run_sql, signing
from .events import RunEvent
from .models import Run, Workflow
from .runner import TIMED_OUT, DynamicWorkflowRunner, RunResult
from .steps import may_wait

if TYPE_CHECKING:  # cronjobs.models imports workflows.models, never this module
    from cronjobs.models import CronJob

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 120  # how long a run's worker waits for the database to come back


def run_enqueue(
    *,
    workflow: Workflow,
    owner: AbstractBaseUser,
    trigger: str,
    input_text: str,
    job: "CronJob | None" = None,
    scheduled_for: datetime | None = None,
    rerun_of: Run | None = None,
) -> Run:
    """Record a queued run, handed over to the workers (its message sent once the row is committed)
    if its owner's concurrency limit has room, else held until it has. It carries its job's tags as
    they are now (its workflow's, without a job)."""
    with transaction.atomic():
        if job is not None:
            # The job's row before its owner's lock, the order beat's claim takes them in. Taken at
            # the insert instead (its foreign-key check), after the owner's lock, it waited for a
            # beat holding the job and waiting for that lock: a deadlock.
            lock_row_key(type(job), job.pk)
        [handed_over] = dispatch.admit([owner.pk])
        run = Run.objects.create(
            workflow=workflow,
            owner=owner,
            job=job,
            trigger=trigger,
            scheduled_for=scheduled_for,
            input_text=input_text,
            rerun_of=rerun_of,
            tags=(job if job is not None else workflow).tags,
            published_at=timezone.now() if handed_over else None,
            wait_reason="" if handed_over else Run.WaitReason.CONCURRENCY_LIMIT,
        )
        if handed_over:
            dispatch.send_on_commit(run)
        events.publish_on_commit([RunEvent(events.CREATED, run.id, owner.pk, run.job_id)])
    return run


def run_headers(run_id: uuid.UUID | str, trigger: str, job_id: str | None, scheduled_for: datetime | None) -> dict:
    """The headers every http step of the run sends: the run id (also as Idempotency-Key, the name
    receivers commonly deduplicate on), the job and the slot it fires for."""
    headers = {"Idempotency-Key": str(run_id), "X-Vingine-Run-Id": str(run_id), "X-Vingine-Trigger": trigger}
    if job_id is not None:
        headers["X-Vingine-Job-Id"] = job_id
    if scheduled_for is not None:
        headers["X-Vingine-Scheduled-For"] = scheduled_for.astimezone(UTC).isoformat()
    return headers


def run_execute(*, run_id: uuid.UUID | str) -> RunResult | None:
    """Run a queued run; return what it did, or None if it was not ours to run. Safe to call twice:
    only the caller that claims the row runs it.

    Two statements on the database per run, the least a run can take: the claim, which also reads
    what the run needs, and the result, which also says whether the owner has runs held back by
    their concurrency limit (then one of them is handed over now, in this run's place).
    """
    started_at, worker = timezone.now(), heartbeat.worker_id or ""
    claimed = _retrying_database_errors(lambda: run_sql.claim(run_id, started_at=started_at, worker=worker))
    if claimed is None:
        # Another delivery of the same message got there first, or the run (or its job) is gone.
        logger.info("run %s not claimed: already taken or deleted", run_id)
        return None
    events.publish_soon([RunEvent(events.STARTED, run_id, claimed.owner_id, claimed.job_pk)])

    def on_step(record: dict) -> None:
        events.publish_soon([RunEvent(events.STEP, run_id, claimed.owner_id, claimed.job_pk, record)])

    keys, unsigned = [], ""
    if any(step.get("type") == "http" for step in claimed.steps):
        try:
            keys = signing.signing_keys(claimed.owner_id, claimed.signing_secret, claimed.signing_previous)
        except signing.SecretUnreadable as exc:  # the run ends failed, saying why; never left running
            unsigned = f"Its requests could not be signed: {exc}"
    if may_wait(claimed.steps):
        # Nothing to write until the run ends: the database connection goes back to its pool (when
        # there is one) while the steps wait on the network.
        release_connection()
    # The same limit Celery enforces on execute_run; kept here too so steps that wait (http
    # timeouts, backoff between retries) stop at it, and a run outside a worker has it as well.
    deadline = time.monotonic() + settings.WORKFLOW_RUN_TIME_LIMIT
    headers = run_headers(run_id, claimed.trigger, claimed.job_id, claimed.scheduled_for)
    if unsigned:
        result = RunResult(error=unsigned)
    else:
        with soft_time_limit(settings.WORKFLOW_RUN_TIME_LIMIT), cancellation.watching(run_id) as watched:
            runner = DynamicWorkflowRunner(claimed.steps, run_headers=headers, run_id=str(run_id), signing_keys=keys)
            result = runner.run(claimed.input_text, deadline=deadline, cancelled=watched.is_cancelled, on_step=on_step)
    finished_at = timezone.now()
    if result.succeeded:
        status, reason = Run.Status.SUCCEEDED, ""
    elif result.cancelled:
        status, reason = Run.Status.CANCELLED, ""
    else:
        status, reason = Run.Status.FAILED, Run.Reason.TIMEOUT if result.timed_out else Run.Reason.ERROR
    # Conditional on status: a run that something else has finished meanwhile (the reaper) is not
    # overwritten.
    held = _retrying_database_errors(
        lambda: run_sql.finish(
            run_id,
            status=status,
            reason=reason,
            error=result.error,
            output=result.output,
            output_truncated=result.output_truncated,
            steps=result.steps,
            finished_at=finished_at,
        )
    )
    if held is not None:  # else ended meanwhile by something else (the reaper), which told it then
        events.publish_soon([RunEvent(events.ENDED, run_id, claimed.owner_id, claimed.job_pk)])
    if held:
        _retrying_database_errors(lambda: dispatch.runs_release([claimed.owner_id]))
    if claimed.trigger == Run.Trigger.BACKFILL:
        _retrying_database_errors(lambda: dispatch.backfill_release([claimed.job_pk]))
    if claimed.outcome_watched and status in (Run.Status.SUCCEEDED, Run.Status.FAILED):
        dispatch.send_outcome_check(claimed.job_pk, run_id)
    return result


def runs_execute(*, run_ids: list[str]) -> None:
    """Run these runs side by side (gevent), each once it has one of the worker's run slots, each
    under the time limits Celery gives execute_run; return when all have ended."""
    side_by_side([functools.partial(_run_side_by_side, run_id) for run_id in run_ids])


def _run_side_by_side(run_id: str) -> None:
    with run_slot():
        try:
            with hard_time_limit(settings.WORKFLOW_RUN_TIME_LIMIT + settings.WORKFLOW_RUN_KILL_GRACE):
                run_execute(run_id=run_id)
        except TimeLimitExceeded:
            run_end_abruptly(run_id=run_id, timed_out=True)
        except Exception:  # as Celery logs a task that raises; the runs beside it go on
            logger.exception("run %s raised", run_id)
        finally:
            connection.close()  # back to the pool: this greenlet ends here


def _retrying_database_errors(write: Callable[[], Any]) -> Any:
    """Run ``write``, trying again while the database is unreachable (restarting, failing over).

    Giving up at the first error would lose the run: its message is acknowledged when the task
    fails, so a run not yet claimed would wait for the sweeper, and one claimed would stay
    ``running`` until the time-limit reaper, its result (the steps' effects are out in the world)
    lost. Each write must be safe to repeat: the one that failed may have been committed.
    """
    give_up = time.monotonic() + DATABASE_RETRY_SECONDS
    wait = 0.5
    while True:
        try:
            return write()
        except (db.OperationalError, db.InterfaceError) as exc:
            if time.monotonic() + wait > give_up:
                raise
            logger.warning("database unreachable, recording the run again in %.1fs: %r", wait, exc)
            if not connection.in_atomic_block:
                connection.close()
            time.sleep(wait)
            wait = min(wait * 2, 2.0)


def run_end_abruptly(*, run_id: uuid.UUID | str, timed_out: bool) -> bool:
    """Record a run whose pool process ended under it: killed at the hard time limit, or died
    (out of memory, killed). Called in the worker's main process, which saw it happen."""
    if timed_out:
        reason = Run.Reason.TIMEOUT
        error = f"{TIMED_OUT} ({settings.WORKFLOW_RUN_TIME_LIMIT}s) and was killed"
    else:
        reason = Run.Reason.LOST
        error = "The process running this run died before the run finished (killed or out of memory); "
        error += "the run was not started again"
    ended = Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(
        status=Run.Status.FAILED, reason=reason, error=error, finished_at=timezone.now()
    )
    if ended:
        owner_id, job_pk = Run.objects.values_list("owner_id", "job_id").get(id=run_id)
        events.publish([RunEvent(events.ENDED, run_id, owner_id, job_pk)])
    return ended == 1


def run_cancel(*, run: Run, by: AbstractBaseUser) -> Run:
    """Cancel one run (already checked to be ``by``'s to cancel): 409 if it has ended."""
    with transaction.atomic():
        run = Run.objects.select_for_update(of=("self",)).select_related("job", "workflow", "owner").get(pk=run.pk)
        if run.finished_at is not None or run.status not in (Run.Status.QUEUED, Run.Status.RUNNING):
            raise Conflict(f"Run {run.id} already ended ({run.status}); there is nothing to cancel")
        _cancel_locked([run], by=by)
    return run


def runs_cancel(runs: QuerySet[Run], *, by: AbstractBaseUser) -> tuple[int, int]:
    """Cancel every unfinished run of ``runs`` (a job's, an operator's selection); returns how many
    ended cancelled at once (queued) and how many are being stopped by their worker (running)."""
    with transaction.atomic():
        unfinished = list(
            runs.filter(finished_at__isnull=True, status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
            .select_for_update(of=("self",))
            .order_by("created_at", "id")
        )
        _cancel_locked(unfinished, by=by)
    queued = sum(1 for run in unfinished if run.status == Run.Status.CANCELLED)
    return queued, len(unfinished) - queued


def _cancel_locked(runs: list[Run], *, by: AbstractBaseUser) -> None:
    """Cancel these unfinished runs, locked by the caller's transaction.

    A queued run ends cancelled now: its message, if it was sent, finds it no longer queued when it
    arrives, and its worker does nothing. A running run is marked for its worker to stop
    (``cancellation``); it ends cancelled when its worker has stopped it, or as it would have if
    its steps end first. Either way the run frees its place in its owner's concurrency limit.
    """
    if not runs:
        return
    now = timezone.now()
    queued = [run for run in runs if run.status == Run.Status.QUEUED]
    running = [run for run in runs if run.status == Run.Status.RUNNING]
    for run in runs:
        run.cancelled_at, run.cancelled_by = now, by
    for run in queued:
        run.status, run.finished_at, run.wait_reason = Run.Status.CANCELLED, now, ""
        run.error = f"Cancelled by {by.get_username()} before it started"
    if queued:
        Run.objects.filter(id__any=[run.id for run in queued]).update(
            status=Run.Status.CANCELLED,
            finished_at=now,
            wait_reason="",
            error=queued[0].error,
            cancelled_at=now,
            cancelled_by=by,
        )
    if running:
        Run.objects.filter(id__any=[run.id for run in running]).update(cancelled_at=now, cancelled_by=by)
        try:
            cancellation.request_stop([run.id for run in running])
        except redis.RedisError as exc:  # nothing is recorded: the transaction is rolled back
            raise QueueUnavailable(
                "Redis is unreachable, so the running run could not be told to stop; nothing was changed. "
                "Try again shortly."
            ) from exc
    events.publish_on_commit(RunEvent(events.ENDED, run.id, run.owner_id, run.job_id) for run in queued)
    owners = sorted({run.owner_id for run in runs})
    backfilled = sorted({run.job_id for run in runs if run.trigger == Run.Trigger.BACKFILL})

    def release() -> None:
        # Room freed under these owners' limits goes to their held runs, and a backfill moves on.
        dispatch.runs_release(owners)
        dispatch.backfill_release(backfilled)

    transaction.on_commit(release)


def run_rerun(*, run: Run) -> Run:
    """A new run of the same workflow with the same input, pointing at the run it repeats."""
    return run_enqueue(
        workflow=run.workflow,
        owner=run.owner,
        job=run.job,
        trigger=Run.Trigger.RERUN,
        input_text=run.input_text,
        rerun_of=run,
    )
