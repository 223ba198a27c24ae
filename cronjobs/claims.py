"""Claiming due jobs: for each job whose slot has come (or comes within LOOKAHEAD), record its
slot's run and move ``next_fire_at`` past it, in one transaction, so a slot is never claimed twice.

Jobs are locked ``FOR UPDATE SKIP LOCKED``: several beats claim side by side, each job going to
one of them, and the other finds it already advanced. The slots are computed once per distinct
schedule in a batch (a burst shares one expression). See ``cronjobs.beat`` for how beat uses this.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from vingine.sql import insert_rows, update_rows
from workflows import events
from workflows.dispatch import admit
from workflows.events import RunEvent
from workflows.models import Run

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
    "tags",
)
# A run row as the claim writes it; every other column takes its model default.
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
    "published_at",
    "wait_reason",
    "tags",
)
_ID, _JOB, _OWNER, _SLOT, _STATUS = (
    RUN_ROW_FIELDS.index(name) for name in ("id", "job", "owner", "scheduled_for", "status")
)


def _row(job: CronJob, slot: datetime, now: datetime, *, reason: str = "", error: str = "") -> list:
    status, finished_at = (Run.Status.SKIPPED, now) if reason else (Run.Status.QUEUED, None)
    job_fields = (job.pk, job.workflow_id, job.owner_id)
    return [uuid.uuid4(), *job_fields, slot, job.input_text, status, reason, error, finished_at, None, "", job.tags]


def _admit(rows: list[list], now: datetime) -> None:
    """Decide, in the claim's transaction, which runs to run are handed over at their slot (their
    published_at is that moment) and which wait for room under their owner's concurrency limit."""
    to_run = [row for row in rows if row[_STATUS] == Run.Status.QUEUED]
    for row, handed_over in zip(to_run, admit([row[_OWNER] for row in to_run]), strict=True):
        if handed_over:
            row[RUN_ROW_FIELDS.index("published_at")] = max(row[_SLOT], now)
        else:
            row[RUN_ROW_FIELDS.index("wait_reason")] = Run.WaitReason.CONCURRENCY_LIMIT


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
    """Of these jobs, those with a run still queued or running (for the overlap policy skip); a
    backfill run waiting its turn does not count."""
    return set(
        Run.objects.filter(job_id__in=job_ids, status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
        .exclude(wait_reason=Run.WaitReason.BACKFILL)
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

    Each run to run is handed over for its slot if its owner's concurrency limit has room
    (workflows.dispatch.admit), else recorded waiting for room (held). Returns how many jobs were
    claimed and the (slot, run id) pairs handed over, each to send at its slot (after the commit: a
    worker must find the row).
    """
    until = max(until or now, now)
    # A backfill run waiting its turn is not a run of the job's yet: it yields to the schedule.
    unfinished = Run.objects.filter(job=OuterRef("pk"), status__in=(Run.Status.QUEUED, Run.Status.RUNNING)).exclude(
        wait_reason=Run.WaitReason.BACKFILL
    )
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
        rows: list[list] = []
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
        _admit(rows, now)
        # One statement each, as arrays (vingine.sql): model instances and per-value placeholders
        # would cost more than the database work. A run row that conflicts means the slot already
        # has a run (written by the stock scheduler's fire_job before a switch): that run stands.
        insert_rows(Run, RUN_ROW_FIELDS, rows, constants={"trigger": Run.Trigger.SCHEDULE, "now": now})
        update_rows(
            CronJob,
            [job.pk for job in jobs],
            {"next_fire_at": [job.next_fire_at for job in jobs], "prepared_for": [job.prepared_for for job in jobs]},
        )
        events.publish_on_commit(_run_events(rows))
    published = RUN_ROW_FIELDS.index("published_at")
    return len(jobs), [(row[_SLOT], row[_ID]) for row in rows if row[published] is not None]


def _run_events(rows: list[list]) -> list[RunEvent]:
    """Each run recorded: created; a slot recorded skipped (missed, overlap) has ended as well."""
    told = []
    for row in rows:
        told.append(RunEvent(events.CREATED, row[_ID], row[_OWNER], row[_JOB]))
        if row[_STATUS] == Run.Status.SKIPPED:
            told.append(RunEvent(events.ENDED, row[_ID], row[_OWNER], row[_JOB]))
    return told


def next_due() -> datetime | None:
    return (
        CronJob.objects.filter(paused=False, next_fire_at__isnull=False)
        .order_by("next_fire_at")
        .values_list("next_fire_at", flat=True)
        .first()
    )
