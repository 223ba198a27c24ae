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

Messages name their task by string (``EXECUTE_RUN`` for one run, ``EXECUTE_RUNS`` for runs sent
together, RUNS_PER_MESSAGE to a message) and carry run ids as their arguments, so the queue can be
read for the runs it holds. A run sent twice still runs once: the worker claims the row (queued →
running) before anything else.
"""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from cronjobs.models import CronJob
from vingine import broker
from vingine.celery import app
from vingine.errors import QueueUnavailable
from vingine.sql import lock_keys_for_transaction

from . import run_sql
from .models import Run, RunLimit

logger = logging.getLogger(__name__)

EXECUTE_RUN = "workflows.tasks.execute_run"
EXECUTE_RUNS = "workflows.tasks.execute_runs"
# Runs sent together are sent RUNS_PER_MESSAGE to a message (execute_runs), which runs them side by
# side: what Celery and kombu spend on a message (taking it from Redis, recording it as taken,
# acknowledging it: about 0.6 ms of a worker's CPU) is then spent once per RUNS_PER_MESSAGE runs.
RUNS_PER_MESSAGE = 10
RUN_ENDED = "cronjobs.tasks.job_run_ended"
PUBLISH_RETRY_POLICY = {"max_retries": 12, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Only runs older than this, and whose slot passed longer ago than this, are sent by the sweeper:
# younger ones may still be on their way out, or waiting in a beat for their slot.
SWEEP_AFTER = timedelta(seconds=2)
SWEEP_BATCH = 1000
# A queued run sent this long ago that no worker has started is sent again (resend_stale).
RESEND_AFTER = timedelta(seconds=5)
HELD = Run.WaitReason.CONCURRENCY_LIMIT
BACKFILL = Run.WaitReason.BACKFILL
# Runs that count against their owner's limit: handed over and not finished (the run_in_flight index).
IN_FLIGHT = Q(published_at__isnull=False, finished_at__isnull=True)
# Queued and not handed over (the run_unfinished index).
NOT_HANDED_OVER = Q(status=Run.Status.QUEUED, published_at__isnull=True, finished_at__isnull=True)

Commands = list[tuple[str, tuple]]  # Redis commands that send messages, built by runs_messages


def send_on_commit(run: Run) -> None:
    """Send the message of a run handed over in the current transaction once it commits (at once
    outside of one): sent inside it, a worker could look for a row it cannot see yet."""
    transaction.on_commit(lambda: _send_now(run))


def _send_now(run: Run) -> None:
    try:
        _send([run.id], retry=True)
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
    if len(owner_ids) == 1:  # an API call's run: one statement
        [owner] = owner_ids
        return {owner: run_sql.room(owner, default_limit=settings.RUN_MAX_CONCURRENT_PER_USER)}
    limits, used = max_concurrent(owner_ids), in_flight(owner_ids)
    return {owner: limits[owner] - used[owner] for owner in owner_ids}


def admit(owners: list[int]) -> list[bool]:
    """For new runs of these owners (one entry per run, oldest first), whether each may be handed
    over now. Takes the owners' locks for the caller's transaction, which must record the decision
    (published_at, or wait_reason held) before it commits."""
    distinct = sorted(set(owners))
    if not distinct:
        return []
    lock_keys_for_transaction([f"runs-of-user:{owner}" for owner in distinct])
    free = room(distinct)
    decisions = []
    for owner in owners:
        decisions.append(free[owner] > 0)
        free[owner] -= 1
    return decisions


def runs_dispatch(run_ids: list[uuid.UUID], *, retry: bool = False) -> list:
    """Hand these queued, not yet handed over runs to the workers, oldest first, as far as each
    owner's limit allows; mark the others held. Returns the ids handed over.

    Raises the broker's error when it is unreachable; the runs it concerned are then no longer
    marked handed over, so the sweeper sends them later.
    """
    now = timezone.now()
    candidates = Run.objects.filter(NOT_HANDED_OVER, id__any=list(run_ids))
    with transaction.atomic():
        # Owners first, in one order everywhere, then their runs: a dispatcher holding a run never
        # waits for an owner another one holds.
        owners = sorted(set(candidates.values_list("owner_id", flat=True)))
        if not owners:
            return []
        lock_keys_for_transaction([f"runs-of-user:{owner}" for owner in owners])
        rows = list(
            candidates.select_for_update(skip_locked=True)
            .order_by("created_at", "id")
            .values_list("id", "owner_id", "wait_reason")
        )
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
    _send_handed_over(admitted, retry=retry)
    return admitted


def _send_handed_over(run_ids: list[uuid.UUID], *, retry: bool = False) -> None:
    if not run_ids:
        return
    try:
        _send(run_ids, retry=retry)
    except OperationalError:
        # Nothing, or not all, went out: the sweeper hands them over again (a run sent twice still
        # runs once).
        Run.objects.filter(id__any=run_ids, status=Run.Status.QUEUED).update(published_at=None)
        raise


def _send(run_ids: list[uuid.UUID], *, retry: bool) -> None:
    if retry and len(run_ids) == 1:
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
    messages_send(runs_messages(run_ids))


def runs_send_one_by_one(run_ids: list[str]) -> None:
    """Send each of these runs in a message of its own (execute_run, the run id as its task id), in
    one pipeline."""
    messages_send(broker.build_messages(app, EXECUTE_RUN, {str(run_id): (str(run_id),) for run_id in run_ids}))


def messages_send(commands: Commands) -> None:
    """Send commands built by ``runs_messages``, in one pipeline."""
    broker.send(app, commands)


def runs_messages(run_ids: Iterable[uuid.UUID | str]) -> Commands:
    """The broker commands that hand these runs to the workers, RUNS_PER_MESSAGE to a message, in
    their order; built now and sent later: beat builds them seconds before a slot, so that at the
    slot little is left to do."""
    ids = [str(run_id) for run_id in run_ids]
    groups = [ids[start : start + RUNS_PER_MESSAGE] for start in range(0, len(ids), RUNS_PER_MESSAGE)]
    return broker.build_messages(app, EXECUTE_RUNS, {str(uuid.uuid4()): (group,) for group in groups})


def runs_release(owner_ids: Iterable[int] | None = None, *, limit: int = SWEEP_BATCH) -> int:
    """Hand over held runs of these owners (every owner with held runs when None), oldest first, as
    far as their limits allow now. Returns how many were handed over."""
    if owner_ids is None:
        owner_ids = (
            Run.objects.filter(wait_reason=HELD).values_list("owner_id", flat=True).distinct().order_by()[:limit]
        )
    handed_over = []
    for owner in sorted(set(owner_ids)):
        with transaction.atomic():
            ids = run_sql.hand_over_held(owner, default_limit=settings.RUN_MAX_CONCURRENT_PER_USER, now=timezone.now())
        _send_handed_over(ids)
        handed_over += ids
    return len(handed_over)


def backfill_release(job_pks: Iterable[int] | None = None, *, limit: int = SWEEP_BATCH) -> int:
    """Hand over the next waiting backfill runs of these jobs (every job with some when None),
    oldest slot first: while the job's overlap policy is skip, only when none of its runs is handed
    over and unfinished; under allow, up to BACKFILL_MAX_CONCURRENT of its backfill runs at once;
    always within the owner's concurrency limit. Called when a backfill run ends or is cancelled,
    and by every beat's sweeper. Returns how many were handed over."""
    waiting = Run.objects.filter(wait_reason=BACKFILL)
    if job_pks is None:
        job_pks = waiting.values_list("job_id", flat=True).distinct().order_by()[:limit]
    jobs = CronJob.objects.filter(pk__in=sorted(set(job_pks))).values_list("pk", "owner_id", "overlap")
    handed_over = []
    for job_pk, owner, overlap in jobs:
        with transaction.atomic():
            # The owner's lock, as every dispatcher takes: counts stay true until the commit.
            lock_keys_for_transaction([f"runs-of-user:{owner}"])
            busy = Run.objects.filter(IN_FLIGHT, job_id=job_pk)
            if overlap == CronJob.Overlap.SKIP:
                turns = 0 if busy.exists() else 1
            else:
                turns = settings.BACKFILL_MAX_CONCURRENT - busy.filter(trigger=Run.Trigger.BACKFILL).count()
            turns = min(turns, room([owner])[owner])
            if turns <= 0:
                continue
            ids = list(waiting.filter(job_id=job_pk).order_by("scheduled_for").values_list("id", flat=True)[:turns])
            Run.objects.filter(id__any=ids).update(published_at=timezone.now(), wait_reason="")
        _send_handed_over(ids)
        handed_over += ids
    return len(handed_over)


def send_outcome_check(job_pk: int, run_id: uuid.UUID | str) -> None:
    """Tell the job a run of it ended (cronjobs.tasks.job_run_ended: pause after failures, notify
    of a transition). Never fails the run that tells: a check that cannot be sent is made at the
    job's next run, which looks at the job's newest runs as they are then."""
    try:
        app.send_task(RUN_ENDED, args=(job_pk, str(run_id)), retry=False)
    except OperationalError as exc:
        logger.warning("job %s: the check of run %s's outcome could not be sent: %r", job_pk, run_id, exc)


def sweep_unpublished(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Hand over queued runs committed at least SWEEP_AFTER ago, whose slot (if any) passed at least
    SWEEP_AFTER ago, that nobody handed over or held: their dispatcher died, or the broker was down.
    A run claimed ahead is not due before its slot: its beat sends it then; only if that beat died
    does the sweeper, a little later."""
    ids = list(
        Run.objects.filter(NOT_HANDED_OVER, wait_reason="", created_at__lt=now - SWEEP_AFTER)
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lt=now - SWEEP_AFTER))
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    logger.warning("handing over %d queued runs that were never handed over", len(ids))
    return len(runs_dispatch(ids))


def waiting_run_ids() -> set[str]:
    """The runs whose message waits in the broker queue, or was taken by a worker within
    RESEND_AFTER and is on its way to being started (a busy worker holds one message until it has
    a free greenlet)."""
    return broker.waiting_task_arguments(app, {EXECUTE_RUN, EXECUTE_RUNS}, taken_within=RESEND_AFTER.total_seconds())


def resend_stale(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Send again queued runs that were sent RESEND_AFTER ago, that no worker has started and
    whose message is not waiting in the queue.

    Their message is gone: lost with the broker's data (Redis restarted; it keeps nothing on disk),
    or taken by a worker that died before starting it, where Redis would hand it out again only
    after its visibility timeout (about a quarter of an hour). A run sent twice still runs once.
    They stay handed over: they count against their owner's limit as before.
    """
    stale = (
        Run.objects.filter(status=Run.Status.QUEUED, finished_at__isnull=True)
        .filter(
            # A run beat claimed ahead is handed over for its slot (published_at = scheduled_for): if
            # its beat died before sending it, it is sent again SWEEP_AFTER past its slot.
            Q(published_at__lt=now - RESEND_AFTER)
            | Q(published_at__lt=now - SWEEP_AFTER, published_at=F("scheduled_for"))
        )
        .values_list("id", flat=True)
    )
    if not stale.exists():
        return 0
    # The queue is read before the runs: a message a worker takes in between was in the queue when
    # it was read, or its run is started by the time the runs are read. Read the other way round, a
    # run taken in between would look lost and be sent twice.
    waiting = waiting_run_ids()
    with transaction.atomic():
        ids = [run_id for run_id in stale.select_for_update(skip_locked=True)[:limit] if str(run_id) not in waiting]
        if not ids:
            return 0
        logger.warning("sending again %d queued runs whose message was lost", len(ids))
        messages_send(runs_messages(ids))
        Run.objects.filter(id__any=ids).update(published_at=timezone.now())
    return len(ids)
