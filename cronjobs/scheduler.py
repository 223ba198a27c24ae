"""The beat scheduler class (``BEAT_SCHEDULER``, default ``cronjobs.scheduler:JobScheduler``).

Why not django-celery-beat's DatabaseScheduler (still selectable as
``django_celery_beat.schedulers:DatabaseScheduler`` for comparison, see ``make bench``): it holds
every enabled row in memory and re-reads all of them on any change, its tick is O(rows) and sends
one task per call, celery's crontab ANDs day-of-month with day-of-week, and only one beat may run.

Here the database is the schedule. Each CronJob carries ``next_fire_at`` (indexed), computed by the
same evaluator the API shows (``CronJob.fire_times``). A tick:

1. claims due jobs in batches: ``SELECT ... WHERE next_fire_at <= now ORDER BY next_fire_at
   FOR UPDATE SKIP LOCKED LIMIT n``;
2. in that transaction writes one Run per due slot (unique per job and slot) and moves
   ``next_fire_at`` past now, so a committed slot can never be claimed again;
3. after the commit, publishes ``execute_run`` for the runs that should run, over one connection.

Several beats may run side by side without any lock or leader: SKIP LOCKED gives each due job to
one of them, and the other finds it already advanced. A beat that dies between the commit and the
publish leaves queued runs without ``published_at``; the sweeper (every beat runs one) publishes
those. A run published twice still runs once, because ``execute_run`` claims queued → running
first. Nothing per job is held in memory between ticks, so memory does not grow with the number
of jobs, and a change written by the API is seen on the next tick (beat sleeps at most
``BEAT_MAX_LOOP_INTERVAL``, less when a job is due sooner).

The static entries of ``CELERY_BEAT_SCHEDULE`` (maintenance tasks) are run by celery's base
Scheduler exactly as it does, in memory; with several beats each runs them, so such tasks must be
safe to run more than once.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta

from celery.beat import Scheduler
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from vingine import heartbeat
from workflows.models import Run
from workflows.services import runs_publish

from .models import CronJob

logger = logging.getLogger(__name__)

CLAIM_BATCH = 500  # jobs per claiming transaction: short locks, and publishing starts early
# Most missed slots one catch-up records one by one for a job; older ones are summed up in the
# oldest recorded row. An every-second job after a day's outage would otherwise write 86,400 rows.
MISSED_ROWS_MAX = 100
SWEEP_EVERY = 5.0  # seconds between sweeps for unpublished runs
# Only runs older than this are republished: younger ones may still be on their way out.
SWEEP_AFTER = timedelta(seconds=10)
SWEEP_BATCH = 1000
CLAIM_FIELDS = (
    "id",
    "job_id",
    "owner_id",
    "workflow_id",
    "input_text",
    "schedule_type",
    "cron_expression",
    "interval_seconds",
    "timezone",
    "paused",
    "anchor",
    "next_fire_at",
    "misfire_grace_seconds",
    "overlap",
)


def _run(job: CronJob, slot: datetime, now: datetime, *, reason: str = "", error: str = "") -> Run:
    run = Run(
        id=uuid.uuid4(),
        job=job,
        workflow_id=job.workflow_id,
        owner_id=job.owner_id,
        trigger=Run.Trigger.SCHEDULE,
        scheduled_for=slot,
        input_text=job.input_text,
    )
    if reason:
        run.status, run.reason, run.error, run.finished_at = Run.Status.SKIPPED, reason, error, now
    return run


def _slot_runs(job: CronJob, now: datetime, busy: set[int]) -> list[Run]:
    """The runs of the job's due slots: the newest one runs if it is within the grace period and the
    overlap policy lets it; every other due slot is recorded as skipped, saying why."""
    slots, earlier_left_out = job.due_slots(now, MISSED_ROWS_MAX)
    newest = slots[-1]
    on_time = now - newest <= timedelta(seconds=job.misfire_grace_seconds)
    missed = slots[:-1] if on_time else slots
    runs = []
    for index, slot in enumerate(missed):
        error = "Missed: the scheduler could not fire this slot in time"
        if on_time:
            error += "; a later slot ran instead"
        if index == 0 and earlier_left_out:
            error += f"; earlier slots since {job.next_fire_at.isoformat()} were missed too and are not listed"
        runs.append(_run(job, slot, now, reason=Run.Reason.MISSED, error=error))
    if on_time:
        if job.pk in busy:
            error = "Skipped: the previous run of this job was still queued or running (overlap policy skip)"
            runs.append(_run(job, newest, now, reason=Run.Reason.OVERLAP, error=error))
        else:
            runs.append(_run(job, newest, now))
    return runs


def fire_due_jobs(now: datetime, *, batch: int = CLAIM_BATCH) -> tuple[int, list[uuid.UUID]]:
    """Claim up to ``batch`` due jobs, record their slots' runs and advance them, in one transaction.

    Returns how many jobs were claimed and the ids of the runs to publish (after the commit: a
    worker must find the row).
    """
    with transaction.atomic():
        jobs = list(
            CronJob.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(paused=False, next_fire_at__lte=now)
            .order_by("next_fire_at")
            .only(*CLAIM_FIELDS)[:batch]
        )
        if not jobs:
            return 0, []
        skip_overlap = [job.pk for job in jobs if job.overlap == CronJob.Overlap.SKIP]
        busy = set(
            Run.objects.filter(job_id__in=skip_overlap, status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
            .values_list("job_id", flat=True)
            .distinct()
        )
        runs: list[Run] = []
        for job in jobs:
            try:
                runs += _slot_runs(job, now, busy)
                job.next_fire_at = job.next_fire_after(now)
            except Exception:
                # One job whose slots cannot be computed must not stop every other job: try it
                # again in a minute (and say so loudly).
                logger.exception("job %s: could not compute its slots; retrying in a minute", job.job_id)
                job.next_fire_at = now + timedelta(minutes=1)
        # A conflict would mean the slot already has a run (written by the stock scheduler's
        # fire_job before a switch): that run stands, and this one is dropped.
        Run.objects.bulk_create(runs, ignore_conflicts=True)
        save_next_fire_at(jobs)
    return len(jobs), [run.id for run in runs if run.status == Run.Status.QUEUED]


def save_next_fire_at(jobs: list[CronJob]) -> None:
    """Write the jobs' next_fire_at in one statement. Django's bulk_update builds a CASE expression
    whose cost grows with the batch (about 2 ms per row at 500 rows)."""
    if not jobs:
        return
    table = CronJob._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = ", ".join(["(%s, %s::timestamptz)"] * len(jobs))
            cursor.execute(
                f"UPDATE {table} AS job SET next_fire_at = v.at FROM (VALUES {rows}) AS v(id, at) WHERE job.id = v.id",
                [value for job in jobs for value in (job.pk, job.next_fire_at)],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET next_fire_at = %s WHERE id = %s", [(job.next_fire_at, job.pk) for job in jobs]
            )


def sweep_unpublished(now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Publish queued runs committed at least SWEEP_AFTER ago and never published."""
    with transaction.atomic():
        # Locked (skipping what another beat's sweeper holds) so two sweepers don't both send it.
        ids = list(
            Run.objects.select_for_update(skip_locked=True)
            .filter(status=Run.Status.QUEUED, published_at__isnull=True, created_at__lt=now - SWEEP_AFTER)
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            logger.warning("publishing %d queued runs that were never published", len(ids))
            runs_publish(ids)
    return len(ids)


def next_due() -> datetime | None:
    return (
        CronJob.objects.filter(paused=False, next_fire_at__isnull=False)
        .order_by("next_fire_at")
        .values_list("next_fire_at", flat=True)
        .first()
    )


class JobScheduler(Scheduler):
    heartbeat_every = 5.0  # seconds

    def __init__(self, *args, **kwargs):
        self._last_heartbeat = 0.0
        self._last_sweep = 0.0
        self._redis = None
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        self._heartbeat()
        static_delay = super().tick(*args, **kwargs)  # CELERY_BEAT_SCHEDULE, as celery runs it
        # Celery's own tick can answer a negative delay for an entry already late; beat treats it as 0.
        return max(0.0, min(static_delay, self._tick_jobs()))

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self.heartbeat_every:
            return
        try:
            self._redis = self._redis or heartbeat.client()
            heartbeat.beat(self._redis)
            self._last_heartbeat = now
        except Exception as exc:  # a Redis blip must not stop scheduling
            logger.warning("beat heartbeat not written: %r", exc)

    def _tick_jobs(self) -> float:
        """Fire every due job; return the seconds until the next one is due (at most max_interval)."""
        if not connection.in_atomic_block:  # (only a caller's test transaction would be open here)
            close_old_connections()  # drop a connection the database closed, or one past its max age
        try:
            while True:
                claimed, run_ids = fire_due_jobs(timezone.now())
                self._publish(run_ids)
                if claimed < CLAIM_BATCH:
                    break
            if time.monotonic() - self._last_sweep >= SWEEP_EVERY:
                self._last_sweep = time.monotonic()
                sweep_unpublished(timezone.now())
            nearest = next_due()
        except DatabaseError as exc:
            # Database down: keep beat alive and retry. The slots passing meanwhile stay due (their
            # next_fire_at is not advanced) and are recorded as missed or run once it is back.
            logger.error("beat could not reach the database: %r", exc)
            if not connection.in_atomic_block:
                connection.close()
            return self.max_interval
        if nearest is None:
            return self.max_interval
        return max(0.0, min((nearest - timezone.now()).total_seconds(), self.max_interval))

    def _publish(self, run_ids: list[uuid.UUID]) -> None:
        try:
            runs_publish(run_ids)
        except Exception as exc:
            # The runs are committed: the sweeper publishes them once the broker answers again.
            logger.error("could not publish %d runs, the sweeper will retry: %r", len(run_ids), exc)
