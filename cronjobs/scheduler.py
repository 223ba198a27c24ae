"""The beat scheduler class (``BEAT_SCHEDULER``, default ``cronjobs.scheduler:JobScheduler``).

Why not django-celery-beat's DatabaseScheduler (still selectable as
``django_celery_beat.schedulers:DatabaseScheduler`` for comparison, see ``make bench``): it holds
every enabled row in memory and re-reads all of them on any change, its tick is O(rows) and sends
one task per call, celery's crontab ANDs day-of-month with day-of-week, and only one beat may run.

Here the database is the schedule. Each CronJob carries ``next_fire_at`` (indexed), computed by the
same evaluator the API shows (``CronJob.fire_times``). A tick:

1. sends the messages of runs prepared earlier whose slot has now come (one Redis pipeline);
2. claims, in batches, the jobs due now and those due within LOOKAHEAD (10 s):
   ``SELECT ... WHERE next_fire_at <= now + LOOKAHEAD ... ORDER BY next_fire_at
   FOR UPDATE SKIP LOCKED LIMIT n``;
3. in that transaction writes one Run per slot (unique per job and slot) and moves
   ``next_fire_at`` past it, so a committed slot can never be claimed again;
4. after the commit, builds the runs' ``execute_run`` messages and keeps them until their slot
   (sent at once for slots already due); then sleeps until the earliest kept slot, the next
   job's window, or BEAT_MAX_LOOP_INTERVAL, whichever comes first.

Why ahead: each due slot costs a run row and a message, ~0.3 ms of beat time together, so 10,000
jobs due in the same second took seconds after the slot if claimed at the slot. Claimed ahead, all
of that is done before the slot, and at the slot only the prepared messages are sent (10,000 in
a few hundred ms). What claiming ahead must not change, and how it doesn't:

- What the user sees: the API's next_run_time is the prepared slot (``prepared_for``) until it
  has come, then ``next_fire_at``. A pause, replace or delete before the slot removes the prepared
  run in the same transaction (services); the message its beat still sends finds no row and
  ``execute_run`` does nothing. After the slot the run stands: it has fired.
- One prepared slot per job: a job is not claimed ahead again until its prepared slot has come.
- Overlap: a job with the policy ``skip`` is claimed ahead only if no run of it is queued or
  running then; otherwise it is claimed at its slot and the policy is applied then, as before.
  (A manual run triggered between the claim and the slot does not make the slot skip.)
- Misfire grace applies to slots already due when claimed; a slot claimed ahead is never late.
- Exactly once: the slot's run row is committed before its message exists, with
  ``next_fire_at`` moved past it in the same transaction. Several beats may run side by side
  without any lock or leader: SKIP LOCKED gives each job to one of them, and the other finds it
  already advanced. A beat that dies holding prepared messages, or between a commit and a send,
  leaves queued runs without ``published_at``; the sweeper (every beat runs one) sends those once
  their slot is SWEEP_AFTER past (never before the slot). It also sends again queued runs whose
  message has vanished (``resend_stale``). A run sent twice still runs once, because
  ``execute_run`` claims queued → running first.

Claims write rows with array statements (``insert_runs``, ``save_next_fire_at``) and compute the
slots once per distinct schedule in a batch (a burst shares one expression), and messages are
built without celery's per-call overhead (``workflows.services.runs_messages``): Django model
instances and per-value placeholders cost more than the database work. Nothing per job is held in
memory between ticks but the prepared messages of the next LOOKAHEAD seconds, so memory does not
grow with the number of jobs, and a change written by the API is seen on the next tick.

The static entries of ``CELERY_BEAT_SCHEDULE`` (maintenance tasks) are run by celery's base
Scheduler exactly as it does, in memory; with several beats each runs them, so such tasks must be
safe to run more than once.
"""

import heapq
import logging
import time
import uuid
from datetime import datetime, timedelta

from celery.beat import Scheduler
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from vingine import heartbeat
from workflows.models import Run
from workflows.services import messages_send, runs_mark_published, runs_messages, runs_publish, waiting_run_ids

from .models import CronJob

logger = logging.getLogger(__name__)

CLAIM_BATCH = 500  # jobs per claiming transaction: short locks, and publishing starts early
# How far ahead of a slot a job is claimed: its run row is committed and its message built this
# long before the slot, so that at the slot only the messages are left to send. Long enough for
# one beat to claim a 10,000-job burst on a busy 2-core machine; a pause or replace within it
# removes the prepared run (services), so it is invisible to users.
LOOKAHEAD = timedelta(seconds=10)
# While a job is in the look-ahead window but cannot be claimed ahead yet (its previous run is
# unfinished, or its prepared slot has not come), beat looks again this often, not continuously.
CLAIM_POLL = 0.5
# Most missed slots one catch-up records one by one for a job; older ones are summed up in the
# oldest recorded row. An every-second job after a day's outage would otherwise write 86,400 rows.
MISSED_ROWS_MAX = 100
SWEEP_EVERY = 1.0  # seconds between sweeps for unpublished runs (an indexed query)
# Only runs older than this, and whose slot passed longer ago than this, are republished: younger
# ones may still be on their way out, or waiting in a beat for their slot.
SWEEP_AFTER = timedelta(seconds=2)
SWEEP_BATCH = 1000
# A queued run sent this long ago that no worker has started is sent again (resend_stale).
RESEND_AFTER = timedelta(seconds=5)
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
# A run row as the claim writes it: (id, job, workflow, owner, scheduled_for, input_text, status,
# reason, error, finished_at); every other column takes its model default.
RUN_ROW_FIELDS = (
    "id",
    "job",
    "workflow",
    "owner",
    "scheduled_for",
    "input_text",
    "status",
    "reason",
    "error",
    "finished_at",
)


# The same columns as model attributes (foreign keys by their id).
_RUN_ROW_ATTRS = tuple(f"{name}_id" if name in ("job", "workflow", "owner") else name for name in RUN_ROW_FIELDS)


def _row(job: CronJob, slot: datetime, now: datetime, *, reason: str = "", error: str = "") -> tuple:
    status, finished_at = (Run.Status.SKIPPED, now) if reason else (Run.Status.QUEUED, None)
    job_fields = (job.pk, job.workflow_id, job.owner_id)
    return (uuid.uuid4(), *job_fields, slot, job.input_text, status, reason, error, finished_at)


def _slot_rows(job: CronJob, slots: list[datetime], earlier_left_out: bool, now: datetime, busy: set[int]) -> list:
    """The run rows of the job's due slots: the newest one runs if it is within the grace period and
    the overlap policy lets it; every other due slot is recorded as skipped, saying why."""
    newest = slots[-1]
    on_time = now - newest <= timedelta(seconds=job.misfire_grace_seconds)
    missed = slots[:-1] if on_time else slots
    rows = []
    for index, slot in enumerate(missed):
        error = "Missed: the scheduler could not fire this slot in time"
        if on_time:
            error += "; a later slot ran instead"
        if index == 0 and earlier_left_out:
            error += f"; earlier slots since {job.next_fire_at.isoformat()} were missed too and are not listed"
        rows.append(_row(job, slot, now, reason=Run.Reason.MISSED, error=error))
    if on_time:
        if job.pk in busy:
            error = "Skipped: the previous run of this job was still queued or running (overlap policy skip)"
            rows.append(_row(job, newest, now, reason=Run.Reason.OVERLAP, error=error))
        else:
            rows.append(_row(job, newest, now))
    return rows


def _schedule_key(job: CronJob) -> tuple:
    """Jobs with equal keys have the same slots: a burst of jobs on one expression is computed once."""
    anchor = job.anchor if job.schedule_type == CronJob.ScheduleType.INTERVAL else None
    return (job.schedule_type, job.cron_expression, job.interval_seconds, anchor, job.timezone, job.next_fire_at)


def _busy(job_ids: list[int]) -> set[int]:
    """Of these jobs, those with a run still queued or running (for the overlap policy skip)."""
    return set(
        Run.objects.filter(job_id__in=job_ids, status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
        .values_list("job_id", flat=True)
        .distinct()
    )


def claim_due_jobs(now: datetime, until: datetime | None = None, *, batch: int = CLAIM_BATCH) -> tuple[int, list]:
    """Claim up to ``batch`` jobs due by ``now``, or by ``until`` (later: claimed ahead), record their
    slots' runs and advance them, in one transaction.

    A job due by ``now`` gets its due slots recorded as before (missed, overlap, run). A job whose
    next slot is after ``now`` but by ``until`` is claimed ahead: that one slot gets a queued run,
    ``next_fire_at`` moves past it and ``prepared_for`` keeps it for the API's next_run_time. It is
    claimed ahead only when that cannot change what happens at the slot: not while an earlier
    prepared slot of it is still to come (one prepared slot per job), and, for the overlap policy
    skip, not while a run of it is queued or running (such a job is claimed at its slot instead,
    and the policy is applied then, as without look-ahead).

    Returns how many jobs were claimed and the (slot, run id) pairs to publish, each at its slot
    (after the commit: a worker must find the row).
    """
    until = max(until or now, now)
    unfinished = Run.objects.filter(job=OuterRef("pk"), status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
    ahead = (
        Q(next_fire_at__lte=until)
        & (Q(prepared_for__isnull=True) | Q(prepared_for__lte=now))
        & (Q(overlap=CronJob.Overlap.ALLOW) | ~Exists(unfinished))
    )
    with transaction.atomic():
        jobs = list(
            CronJob.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(Q(next_fire_at__lte=now) | ahead, paused=False)
            .order_by("next_fire_at")
            .only(*CLAIM_FIELDS)[:batch]
        )
        if not jobs:
            return 0, []
        busy = _busy([job.pk for job in jobs if job.overlap == CronJob.Overlap.SKIP and job.next_fire_at <= now])
        rows: list[tuple] = []
        computed: dict[tuple, tuple] = {}
        for job in jobs:
            key = _schedule_key(job)
            try:
                if key not in computed:
                    if job.next_fire_at > now:  # claimed ahead: its one next slot
                        computed[key] = ([job.next_fire_at], False, job.next_fire_after(job.next_fire_at))
                    else:
                        computed[key] = (*job.due_slots(now, MISSED_ROWS_MAX), job.next_fire_after(now))
                slots, earlier_left_out, following = computed[key]
            except Exception:
                # One job whose slots cannot be computed must not stop every other job: try it
                # again in a minute (and say so loudly).
                logger.exception("job %s: could not compute its slots; retrying in a minute", job.job_id)
                job.next_fire_at, job.prepared_for = now + timedelta(minutes=1), None
                continue
            if job.next_fire_at > now:
                rows.append(_row(job, job.next_fire_at, now))
                job.prepared_for = job.next_fire_at
            else:
                rows += _slot_rows(job, slots, earlier_left_out, now, busy)
                job.prepared_for = None
            job.next_fire_at = following
        insert_runs(rows, now)
        save_next_fire_at(jobs)
    status, slot, run_id = RUN_ROW_FIELDS.index("status"), RUN_ROW_FIELDS.index("scheduled_for"), 0
    return len(jobs), [(row[slot], row[run_id]) for row in rows if row[status] == Run.Status.QUEUED]


def insert_runs(rows: list[tuple], now: datetime) -> None:
    """Insert the run rows in one statement, as arrays PostgreSQL unnests: building Run objects for
    Django's multi-row INSERT cost about 0.5 ms per run. Columns not in RUN_ROW_FIELDS take their
    model default (trigger: schedule). A conflict would mean the slot already has a run (written by the stock
    scheduler's fire_job before a switch): that run stands, and this one is dropped."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        # SQLite (make run's default database) has no arrays; Django's multi-row INSERT does.
        runs = [Run(trigger=Run.Trigger.SCHEDULE, **dict(zip(_RUN_ROW_ATTRS, row, strict=True))) for row in rows]
        Run.objects.bulk_create(runs, ignore_conflicts=True)
        return
    quote = connection.ops.quote_name
    row_fields = [Run._meta.get_field(name) for name in RUN_ROW_FIELDS]
    index_of = {field.column: index for index, field in enumerate(row_fields)}
    columns, values, constants = [], [], []
    for field in Run._meta.concrete_fields:
        columns.append(quote(field.column))
        if field.column in index_of:
            values.append(f"r.c{index_of[field.column]}")
        else:
            auto_now = getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)
            value = Run.Trigger.SCHEDULE if field.name == "trigger" else now if auto_now else field.get_default()
            values.append(f"%s::{field.db_type(connection)}")
            constants.append(field.get_db_prep_save(value, connection))
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in row_fields)
    aliases = ", ".join(f"c{index}" for index in range(len(row_fields)))
    sql = (
        f"INSERT INTO {quote(Run._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(values)}"
        f" FROM unnest({arrays}) AS r({aliases}) ON CONFLICT DO NOTHING"
    )
    # Placeholders in the text's order: the constants of the SELECT list, then the arrays.
    params = constants + [[row[index] for row in rows] for index in range(len(row_fields))]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def save_next_fire_at(jobs: list[CronJob]) -> None:
    """Write the jobs' next_fire_at and prepared_for in one statement, as arrays: Django's
    bulk_update builds a CASE expression whose cost grows with the batch (about 2 ms per row at
    500 rows), and a VALUES list costs a placeholder per value to parse."""
    if not jobs:
        return
    if connection.vendor != "postgresql":
        CronJob.objects.bulk_update(jobs, ["next_fire_at", "prepared_for"])  # SQLite: no arrays
        return
    table = CronJob._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS job SET next_fire_at = v.at, prepared_for = v.prepared"
            " FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS v(id, at, prepared)"
            " WHERE job.id = v.id",
            [[job.pk for job in jobs], [job.next_fire_at for job in jobs], [job.prepared_for for job in jobs]],
        )


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
        Run.objects.filter(id__in=ids).update(published_at=timezone.now())
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
        # Runs claimed ahead, waiting for their slot: a heap of (slot, sequence, run ids, messages).
        self._prepared: list[tuple[datetime, int, list[uuid.UUID], list]] = []
        self._sequence = 0
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
        """Send the prepared runs whose slot has come, claim what is due or due within LOOKAHEAD;
        return the seconds until there is something to do again (at most max_interval)."""
        self._send_prepared()
        if not connection.in_atomic_block:  # (only a caller's test transaction would be open here)
            close_old_connections()  # drop a connection the database closed, or one past its max age
        try:
            while True:
                now = timezone.now()
                claimed, runs = claim_due_jobs(now, now + LOOKAHEAD)
                self._prepare(runs, now)
                self._send_prepared()  # a long claim must not hold back a slot that has come
                if claimed < CLAIM_BATCH:
                    break
            if time.monotonic() - self._last_sweep >= SWEEP_EVERY:
                self._last_sweep = time.monotonic()
                self._sweep()
            nearest = next_due()
        except DatabaseError as exc:
            # Database down: keep beat alive and retry. The slots passing meanwhile stay due (their
            # next_fire_at is not advanced) and are recorded as missed or run once it is back.
            logger.error("beat could not reach the database: %r", exc)
            if not connection.in_atomic_block:
                connection.close()
            return self._delay(None)
        return self._delay(nearest)

    def _sweep(self) -> None:
        try:
            sweep_unpublished(timezone.now())
            resend_stale(timezone.now())
        except DatabaseError:
            raise
        except Exception as exc:  # the broker is down: the runs stay queued, the next sweep retries
            logger.error("sweep could not reach the broker: %r", exc)

    def _delay(self, nearest: datetime | None) -> float:
        now = timezone.now()
        delays = [self.max_interval]
        if self._prepared:
            delays.append((self._prepared[0][0] - now).total_seconds())
        if nearest is not None:
            # When its look-ahead window opens; a job already inside it that was not claimed (its
            # prepared slot is still to come, or its previous run unfinished) is looked at again
            # every CLAIM_POLL, and at its slot at the latest.
            until_slot = (nearest - now).total_seconds()
            delays.append(max((nearest - LOOKAHEAD - now).total_seconds(), min(CLAIM_POLL, until_slot)))
        return max(0.0, min(delays))

    def _prepare(self, runs: list[tuple[datetime, uuid.UUID]], now: datetime) -> None:
        """Build the messages of claimed runs, grouped by slot: sent at once for slots that have come,
        kept for the others until their slot."""
        by_slot: dict[datetime, list[uuid.UUID]] = {}
        for slot, run_id in runs:
            by_slot.setdefault(max(slot, now), []).append(run_id)  # a slot that has come: at once
        for slot, run_ids in by_slot.items():
            try:
                messages = runs_messages(run_ids)
            except Exception as exc:
                logger.error("could not build %d messages, the sweeper will retry: %r", len(run_ids), exc)
                continue
            self._sequence += 1
            heapq.heappush(self._prepared, (slot, self._sequence, run_ids, messages))

    def _send_prepared(self) -> None:
        """Send every prepared run whose slot has come, in one pipeline, then stamp them published."""
        run_ids, messages = [], []
        while self._prepared and self._prepared[0][0] <= timezone.now():
            _, _, ids, commands = heapq.heappop(self._prepared)
            run_ids += ids
            messages += commands
        if not run_ids:
            return
        try:
            self._send(run_ids, messages)
        except Exception as exc:
            # The runs are committed: the sweeper publishes them once the broker answers again.
            logger.error("could not publish %d runs, the sweeper will retry: %r", len(run_ids), exc)
            return
        try:
            runs_mark_published(run_ids)
        except DatabaseError as exc:
            # Sent but not stamped: the sweeper may send them again, and execute_run runs each once.
            logger.error("could not mark %d runs published: %r", len(run_ids), exc)

    def _send(self, run_ids: list[uuid.UUID], messages: list) -> None:
        messages_send(messages)
