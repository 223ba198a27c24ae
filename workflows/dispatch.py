"""Handing committed runs to the workers, fairly between users.

A queued run is handed over (its message sent, ``published_at`` stamped) only while its owner has
fewer than their concurrency limit (RUN_MAX_CONCURRENT_PER_USER, or the user's ``RunLimit``) runs
handed over and not finished. The others wait, queued, with ``wait_reason`` concurrency_limit, and
are handed over oldest first as the owner's earlier runs end (``runs_release``: the worker that
finishes a run asks for it, and every beat's sweeper each second). So the broker queue holds at
most that many runs per user: one user's backlog waits in the database, not in front of everyone
else's runs, and another user's run due meanwhile is taken by the next free worker.

Admission is exact across processes: each ``runs_dispatch`` counts and marks under an advisory
lock per owner, and candidate runs are locked ``SKIP LOCKED``, so two dispatchers never hand over
the same run or more than the limit between them.

The message names its task by string (``EXECUTE_RUN``) and carries the run id as its task id, so
the queue can be read for the runs it holds. A run sent twice still runs once: ``execute_run``
claims the row (queued → running) before anything else.
"""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from vingine import broker
from vingine.celery import app
from vingine.errors import QueueUnavailable
from vingine.sql import lock_keys_for_transaction

from .models import Run, RunLimit

logger = logging.getLogger(__name__)

EXECUTE_RUN = "workflows.tasks.execute_run"
PUBLISH_RETRY_POLICY = {"max_retries": 12, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Only runs older than this, and whose slot passed longer ago than this, are sent by the sweeper:
# younger ones may still be on their way out, or waiting in a beat for their slot.
SWEEP_AFTER = timedelta(seconds=2)
SWEEP_BATCH = 1000
# A queued run sent this long ago that no worker has started is sent again (resend_stale).
RESEND_AFTER = timedelta(seconds=5)
HELD = Run.WaitReason.CONCURRENCY_LIMIT
# Runs that count against their owner's limit: handed over and not finished.
IN_FLIGHT = Q(status=Run.Status.RUNNING) | Q(status=Run.Status.QUEUED, published_at__isnull=False)

Messages = dict[str, list[tuple[str, tuple]]]  # run id → the broker commands that send it


def publish_on_commit(run: Run) -> None:
    """Hand the run to the workers once the current transaction commits (at once outside of one)."""
    # Sending inside the transaction could let a worker look for a row it cannot see yet.
    transaction.on_commit(lambda: _dispatch_now(run))


def _dispatch_now(run: Run) -> None:
    try:
        handed_over = runs_dispatch([run.id], retry=True)
    except OperationalError as exc:
        # The row is committed but no worker will ever hear of it: say so in the run instead of
        # leaving it queued for ever, and tell the caller to retry.
        logger.error("run %s could not be queued: %r", run.id, exc)
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.error = f"Could not be queued: the task queue is unreachable ({exc})"
        run.reason = Run.Reason.ERROR
        Run.objects.filter(id=run.id, status=Run.Status.QUEUED).update(
            status=run.status, finished_at=run.finished_at, error=run.error, reason=run.reason, published_at=None
        )
        raise QueueUnavailable("The task queue is unreachable; the run was recorded as failed. Try again shortly.")
    run.wait_reason = "" if handed_over else HELD


def max_concurrent(owner_ids: Iterable[int]) -> dict[int, int]:
    """Each owner's concurrency limit: their own RunLimit, else RUN_MAX_CONCURRENT_PER_USER."""
    own = dict(RunLimit.objects.filter(owner_id__any=list(owner_ids)).values_list("owner_id", "max_concurrent_runs"))
    return {owner: own.get(owner, settings.RUN_MAX_CONCURRENT_PER_USER) for owner in owner_ids}


def in_flight(owner_ids: Iterable[int]) -> dict[int, int]:
    """How many runs of each owner are handed over and not finished."""
    counted = dict(
        Run.objects.filter(IN_FLIGHT, owner_id__any=list(owner_ids))
        .values("owner_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("owner_id", "n")
    )
    return {owner: counted.get(owner, 0) for owner in owner_ids}


def room(owner_ids: list[int]) -> dict[int, int]:
    """How many more runs each owner may have handed over now (zero or less: none)."""
    limits, used = max_concurrent(owner_ids), in_flight(owner_ids)
    return {owner: limits[owner] - used[owner] for owner in owner_ids}


def runs_dispatch(run_ids: list[uuid.UUID], *, prepared: Messages | None = None, retry: bool = False) -> list:
    """Hand these queued, not yet handed over runs to the workers, oldest first, as far as each
    owner's limit allows; mark the others held. Returns the ids handed over.

    ``prepared`` holds messages built ahead (by beat) for some of the runs. Raises the broker's
    error when it is unreachable; the runs it concerned are then no longer marked handed over, so
    the sweeper sends them later.
    """
    now = timezone.now()
    with transaction.atomic():
        # Runs another dispatcher holds are its to hand over; runs already handed over are left.
        rows = list(
            Run.objects.select_for_update(skip_locked=True)
            .filter(id__any=list(run_ids), status=Run.Status.QUEUED, published_at__isnull=True)
            .order_by("created_at", "id")
            .values_list("id", "owner_id", "wait_reason")
        )
        if not rows:
            return []
        owners = sorted({owner for _, owner, _ in rows})
        lock_keys_for_transaction([f"runs-of-user:{owner}" for owner in owners])
        free = room(owners)
        admitted, held = [], []
        for run_id, owner, wait_reason in rows:
            if free[owner] > 0:
                admitted.append(run_id)
                free[owner] -= 1
            elif wait_reason != HELD:
                held.append(run_id)
        if admitted:
            Run.objects.filter(id__any=admitted).update(published_at=now, wait_reason="")
        if held:
            Run.objects.filter(id__any=held).update(wait_reason=HELD)
    if admitted:
        try:
            _send(admitted, prepared or {}, retry=retry)
        except OperationalError:
            # Nothing, or not all, went out: the sweeper hands them over again (a run sent twice
            # still runs once).
            Run.objects.filter(id__any=admitted, status=Run.Status.QUEUED).update(published_at=None)
            raise
    return admitted


def _send(run_ids: list[uuid.UUID], prepared: Messages, *, retry: bool) -> None:
    if retry and len(run_ids) == 1 and str(run_ids[0]) not in prepared:
        # One run from an API call: retried for a few seconds, so a broker restart is waited out
        # rather than failing the run. No time limits in the message: celery would otherwise copy
        # this process's into it, and they would win over the worker's WORKFLOW_RUN_TIME_LIMIT.
        run_id = str(run_ids[0])
        app.send_task(
            EXECUTE_RUN,
            args=(run_id,),
            task_id=run_id,
            time_limit=None,
            soft_time_limit=None,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
        return
    missing = [str(run_id) for run_id in run_ids if str(run_id) not in prepared]
    built = {**prepared, **runs_messages(missing)}
    broker.send(app, [command for run_id in run_ids for command in built[str(run_id)]])


def runs_messages(run_ids: Iterable[uuid.UUID | str]) -> Messages:
    """The broker commands that hand these runs to the workers, built now and sent later: beat
    builds them seconds before a slot, so that at the slot little is left to do."""
    return broker.build_messages(app, EXECUTE_RUN, [str(run_id) for run_id in run_ids])


def runs_release(owner_ids: Iterable[int] | None = None, *, limit: int = SWEEP_BATCH) -> int:
    """Hand over held runs, oldest first, of these owners (every owner with held runs when None),
    as far as their limits allow now. Returns how many were handed over."""
    held = Run.objects.filter(status=Run.Status.QUEUED, published_at__isnull=True, wait_reason=HELD)
    if owner_ids is None:
        owner_ids = held.values_list("owner_id", flat=True).distinct().order_by()[:limit]
    owners = sorted(set(owner_ids))
    if not owners:
        return 0
    candidates = []
    for owner, free in room(owners).items():
        if free > 0:
            candidates += held.filter(owner_id=owner).order_by("created_at", "id").values_list("id", flat=True)[:free]
    return len(runs_dispatch(candidates)) if candidates else 0


def sweep_unpublished(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Hand over queued runs committed at least SWEEP_AFTER ago, whose slot (if any) passed at least
    SWEEP_AFTER ago, that nobody handed over or held: their dispatcher died, or the broker was down.
    A run claimed ahead is not due before its slot: its beat sends it then; only if that beat died
    does the sweeper, a little later."""
    ids = list(
        Run.objects.filter(
            status=Run.Status.QUEUED, published_at__isnull=True, wait_reason="", created_at__lt=now - SWEEP_AFTER
        )
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lt=now - SWEEP_AFTER))
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    logger.warning("handing over %d queued runs that were never handed over", len(ids))
    return len(runs_dispatch(ids))


def waiting_run_ids() -> set[str]:
    """The runs whose message waits in the broker queue, not yet taken by any worker."""
    return broker.waiting_task_ids(app, EXECUTE_RUN)


def resend_stale(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Send again queued runs that were sent RESEND_AFTER ago, that no worker has started and
    whose message is not waiting in the queue.

    Their message is gone: lost with the broker's data (Redis restarted; it keeps nothing on disk),
    or taken by a worker that died before starting it, where Redis would hand it out again only
    after its visibility timeout (about a quarter of an hour). A run sent twice still runs once.
    They stay handed over: they count against their owner's limit as before.
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
        messages = runs_messages(ids)
        broker.send(app, [command for commands in messages.values() for command in commands])
        Run.objects.filter(id__any=ids).update(published_at=timezone.now())
    return len(ids)
