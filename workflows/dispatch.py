"""Handing committed runs to the workers: one message per run on the broker, sent once the row is
committed, and sent again when it was never sent or has vanished.

The message names its task by string (``EXECUTE_RUN``) and carries the run id as its task id, so
the queue can be read for the runs it holds. A run sent twice still runs once: ``execute_run``
claims the row (queued → running) before anything else.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from vingine import broker
from vingine.celery import app
from vingine.errors import QueueUnavailable

from .models import Run

logger = logging.getLogger(__name__)

EXECUTE_RUN = "workflows.tasks.execute_run"
PUBLISH_RETRY_POLICY = {"max_retries": 12, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Only runs older than this, and whose slot passed longer ago than this, are published by the
# sweeper: younger ones may still be on their way out, or waiting in a beat for their slot.
SWEEP_AFTER = timedelta(seconds=2)
SWEEP_BATCH = 1000
# A queued run sent this long ago that no worker has started is sent again (resend_stale).
RESEND_AFTER = timedelta(seconds=5)


def publish_on_commit(run: Run) -> None:
    """Send the run's message once the current transaction commits (at once outside of one)."""
    # Publishing inside the transaction could let a worker look for a row it cannot see yet.
    transaction.on_commit(lambda: _publish(run))


def _publish(run: Run) -> None:
    try:
        # No time limits in the message: celery would otherwise copy this process's into it, and they
        # would win over those of the worker, whose WORKFLOW_RUN_TIME_LIMIT is the one that counts.
        # Retried for a few seconds: a broker restart is waited out rather than failing the run.
        app.send_task(
            EXECUTE_RUN,
            args=(str(run.id),),
            task_id=str(run.id),
            time_limit=None,
            soft_time_limit=None,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
        Run.objects.filter(id=run.id).update(published_at=timezone.now())
    except OperationalError as exc:
        # The row is committed but no worker will ever hear of it: say so in the run instead of
        # leaving it queued for ever, and tell the caller to retry.
        logger.error("run %s could not be queued: %r", run.id, exc)
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.error = f"Could not be queued: the task queue is unreachable ({exc})"
        run.reason = Run.Reason.ERROR
        Run.objects.filter(id=run.id, status=Run.Status.QUEUED).update(
            status=run.status, finished_at=run.finished_at, error=run.error, reason=run.reason
        )
        raise QueueUnavailable("The task queue is unreachable; the run was recorded as failed. Try again shortly.")


def runs_messages(run_ids: list[uuid.UUID]) -> list[tuple[str, tuple]]:
    """The broker commands that hand these runs to the workers, built now and sent later by
    ``messages_send``: the scheduler builds them seconds before a slot, so that at the slot only
    one Redis pipeline is left to send."""
    return broker.build_messages(app, EXECUTE_RUN, [str(run_id) for run_id in run_ids])


def messages_send(commands: list[tuple[str, tuple]]) -> None:
    broker.send(app, commands)


def runs_mark_published(run_ids: list[uuid.UUID]) -> None:
    """Stamp published_at, in one statement: the sweeper leaves these runs alone from now on."""
    if run_ids:
        Run.objects.filter(id__any=list(run_ids), published_at__isnull=True).update(published_at=timezone.now())


def runs_publish(run_ids: list[uuid.UUID]) -> None:
    """Hand committed, queued runs to the workers over one broker connection, then mark them published.

    Raises the broker's error when it is unreachable: the runs stay unpublished and the sweeper
    publishes them again later.
    """
    messages_send(runs_messages(run_ids))
    runs_mark_published(run_ids)


def waiting_run_ids() -> set[str]:
    """The runs whose message waits in the broker queue, not yet taken by any worker."""
    return broker.waiting_task_ids(app, EXECUTE_RUN)


def sweep_unpublished(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Publish queued runs committed at least SWEEP_AFTER ago, whose slot (if any) passed at least
    SWEEP_AFTER ago, and never published. A run claimed ahead is not due before its slot: its beat
    sends it then; only if that beat died does the sweeper, a little later."""
    with transaction.atomic():
        # Locked (skipping what another beat's sweeper holds) so two sweepers don't both send it.
        ids = list(
            Run.objects.select_for_update(skip_locked=True)
            .filter(status=Run.Status.QUEUED, published_at__isnull=True, created_at__lt=now - SWEEP_AFTER)
            .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lt=now - SWEEP_AFTER))
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            logger.warning("publishing %d queued runs that were never published", len(ids))
            runs_publish(ids)
    return len(ids)


def resend_stale(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Send again queued runs that were sent RESEND_AFTER ago, that no worker has started and
    whose message is not waiting in the queue.

    Their message is gone: lost with the broker's data (Redis restarted; it keeps nothing on disk),
    or taken by a worker that died before starting it, where Redis would hand it out again only
    after its visibility timeout (about a quarter of an hour). A run sent twice still runs once.
    """
    with transaction.atomic():
        stale = list(
            Run.objects.select_for_update(skip_locked=True)
            .filter(status=Run.Status.QUEUED, published_at__lt=now - RESEND_AFTER)
            .values_list("id", flat=True)[:limit]
        )
        if not stale:
            return 0
        waiting = waiting_run_ids()
        ids = [run_id for run_id in stale if str(run_id) not in waiting]
        if not ids:
            return 0
        logger.warning("sending again %d queued runs whose message was lost", len(ids))
        messages_send(runs_messages(ids))
        Run.objects.filter(id__any=ids).update(published_at=timezone.now())
    return len(ids)
