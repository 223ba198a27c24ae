"""A run's life: recorded queued, claimed by one worker, executed, its outcome recorded.

Handing the run to a worker is ``dispatch``'s; failing runs whose worker died and trimming old
history is ``maintenance``'s.
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django import db
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from vingine import heartbeat

from . import dispatch
from .models import Run, Workflow
from .runner import TIMED_OUT, DynamicWorkflowRunner

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
) -> Run:
    """Record a queued run and hand it to a worker once the row is committed."""
    with transaction.atomic():
        run = Run.objects.create(
            workflow=workflow,
            owner=owner,
            job=job,
            trigger=trigger,
            scheduled_for=scheduled_for,
            input_text=input_text,
        )
        dispatch.publish_on_commit(run)
    return run


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_headers(run: Run) -> dict[str, str]:
    """The headers every http step of the run sends: the run id (also as Idempotency-Key, the name
    receivers commonly deduplicate on), the job and the slot it fires for."""
    headers = {"Idempotency-Key": str(run.id), "X-Vingine-Run-Id": str(run.id), "X-Vingine-Trigger": run.trigger}
    if run.job_id is not None:
        headers["X-Vingine-Job-Id"] = run.job.job_id
    if run.scheduled_for is not None:
        headers["X-Vingine-Scheduled-For"] = run.scheduled_for.astimezone(UTC).isoformat()
    return headers


def run_execute(*, run_id: uuid.UUID | str) -> Run | None:
    """Run a queued run. Safe to call twice: only the caller that claims the row runs it."""
    started_at, worker = timezone.now(), heartbeat.worker_id or ""
    # Ours if still queued, or if an earlier try of this very claim was committed although the
    # database went away before saying so (the same start time and worker).
    ours = Q(status=Run.Status.QUEUED) | Q(status=Run.Status.RUNNING, started_at=started_at, worker=worker)
    claimed = _retrying_database_errors(
        lambda: Run.objects.filter(ours, id=run_id).update(
            status=Run.Status.RUNNING, started_at=started_at, worker=worker
        )
    )
    if claimed != 1:
        # Another delivery of the same message got there first, or the run (or its job) is gone.
        logger.info("run %s not claimed: already taken or deleted", run_id)
        return None
    run = _retrying_database_errors(lambda: Run.objects.select_related("workflow", "job").get(id=run_id))
    # The same limit Celery enforces on execute_run; kept here too so steps that wait (http
    # timeouts, backoff between retries) stop at it, and a run outside a worker has it as well.
    deadline = time.monotonic() + settings.WORKFLOW_RUN_TIME_LIMIT
    result = DynamicWorkflowRunner(run.workflow, run_headers=run_headers(run)).run(run.input_text, deadline=deadline)
    run.status = Run.Status.SUCCEEDED if result.succeeded else Run.Status.FAILED
    run.output = _jsonable(result.output)
    run.output_truncated = result.output_truncated
    run.steps = _jsonable(result.steps)
    run.error = result.error
    if result.succeeded:
        run.reason = ""
    else:
        run.reason = Run.Reason.TIMEOUT if result.timed_out else Run.Reason.ERROR
    run.finished_at = timezone.now()
    # Conditional on status: a run that something else has finished meanwhile (the reaper) is
    # not overwritten.
    finish = Run.objects.filter(id=run.id, status=Run.Status.RUNNING)
    _retrying_database_errors(
        lambda: finish.update(
            status=run.status,
            output=run.output,
            output_truncated=run.output_truncated,
            steps=run.steps,
            error=run.error,
            reason=run.reason,
            finished_at=run.finished_at,
        )
    )
    return run


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
    return ended == 1
