"""Writes for cron jobs. A job and its django-celery-beat PeriodicTask (``periodic_tasks``) change
together, in one transaction, or not at all.

Beat fires by the job's ``next_fire_at``: every write that changes when a job fires sets it in the
same transaction, and beat reads it on its next tick.
"""

import itertools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from vingine import tags as tag_rules
from vingine.errors import Forbidden, InvalidInput, NotFound
from vingine.rows import insert_row, update_row
from vingine.sql import lock_for_transaction
from workflows import events
from workflows.dispatch import backfill_release
from workflows.events import RunEvent
from workflows.models import Run
from workflows.runs import run_enqueue, runs_cancel
from workflows.selectors import workflow_locked

from . import notifications, schedules
from .models import CronJob, JobTag
from .periodic_tasks import write_periodic_task
from .schedules import ScheduleSpec
from .selectors import job_count, job_get_for, job_locked

logger = logging.getLogger(__name__)

JOB_COLUMNS = [field.name for field in CronJob._meta.concrete_fields if not field.primary_key]  # a replace writes all

RESERVED_JOB_IDS = {"all", "cron", "interval"}  # would collide with /api/cron/jobs/<these>
OWN_WORKFLOWS_ONLY = "Unauthorized: You can only run your own workflows."
Action, Via = AuditEvent.Action, AuditEvent.Via
# What a job's owner set, as its history shows it: before and after a replace, whole on create and delete.
AUDITED_FIELDS = (
    "workflow_id",
    "input_text",
    "schedule_type",
    "cron_expression",
    "interval_seconds",
    "timezone",
    "misfire_grace_seconds",
    "overlap",
    "pause_after_failures",
    "notify",
    "tags",
    "metadata",
    "paused",
)


def _settings(job: CronJob) -> dict[str, Any]:
    # workflow_id names the workflow as the API does, not by the foreign key's value.
    return {
        field: job.workflow.workflow_id if field == "workflow_id" else getattr(job, field) for field in AUDITED_FIELDS
    }


def _audit(job: CronJob, action: str, *, actor: AbstractBaseUser | None, via: str, **changes: Any) -> None:
    audit_record(
        kind=AuditEvent.Kind.JOB,
        object_id=job.job_id,
        owner=job.owner,
        action=action,
        actor=actor,
        via=via,
        changes=changes,
    )


def _resolve_owner(*, caller: AbstractBaseUser, user_id: str | None) -> AbstractBaseUser:
    if user_id is None or user_id == caller.get_username():
        return caller
    if not caller.is_staff:
        raise Forbidden(OWN_WORKFLOWS_ONLY)
    owner = get_user_model().objects.filter(username=user_id).first()
    if owner is None:
        raise InvalidInput(f"user_id {user_id} is not a known user")
    return owner


@transaction.atomic
def job_upsert(
    *,
    caller: AbstractBaseUser,
    job_id: str,
    workflow_id: str,
    user_id: str | None,
    input_text: str,
    spec: ScheduleSpec,
    misfire_grace_seconds: int = 60,
    overlap: str = CronJob.Overlap.SKIP,
    pause_after_failures: int = 0,
    tags: Sequence[str] = (),
    metadata: dict | None = None,
    notify: dict | None = None,
    via: str = Via.API,
) -> CronJob:
    """Create a job, or atomically replace the caller's job with the same id (its tags and metadata
    too: those not given are gone)."""
    tags, metadata = tag_rules.checked(tags, {} if metadata is None else metadata)
    if overlap not in CronJob.Overlap.values:
        raise InvalidInput(f"overlap must be one of {', '.join(CronJob.Overlap.values)}")
    if not 0 <= pause_after_failures <= CronJob.MAX_PAUSE_AFTER_FAILURES:
        raise InvalidInput(f"pause_after_failures must be from 0 (never) to {CronJob.MAX_PAUSE_AFTER_FAILURES}")
    if not 1 <= misfire_grace_seconds <= CronJob.MAX_MISFIRE_GRACE_SECONDS:
        raise InvalidInput(f"misfire_grace_seconds must be from 1 to {CronJob.MAX_MISFIRE_GRACE_SECONDS}")
    if job_id in RESERVED_JOB_IDS:
        raise InvalidInput(f"job_id '{job_id}' is reserved; choose another job_id")
    lock_for_transaction(f"cronjob:{job_id}")
    # With its newest run, for the answer: a replace leaves the job's runs as they are (but a
    # prepared one, _drop_prepared).
    existing = job_locked(job_id, last_run=True)
    if user_id is None and caller.is_staff and existing is not None:
        # An operator replacing someone's job without naming a user keeps the job's owner.
        owner = existing.owner
    else:
        owner = _resolve_owner(caller=caller, user_id=user_id)
    # Locked so the workflow cannot be deleted between this check and our commit. NO KEY: the
    # scheduler's foreign-key checks (KEY SHARE, as it commits new runs) must not wait for us, nor
    # we for them: each holding one row the other wants was a deadlock.
    workflow = workflow_locked(workflow_id)
    if workflow is None:
        raise NotFound(f"Workflow {workflow_id} not found")
    if workflow.owner_id != owner.pk:
        raise Forbidden(OWN_WORKFLOWS_ONLY)
    if existing is not None and existing.owner_id != owner.pk:
        raise Forbidden(
            f"You don't have permission to replace this job: job id {job_id} belongs to another user; "
            "choose another job_id"
        )

    if existing is None:
        # Serialise this owner's creates so two at once cannot both pass the quota check (after the
        # job id's lock, as every create takes them).
        lock_for_transaction(f"jobs-of-user:{owner.pk}")
    if existing is None and job_count(owner=owner) >= settings.CRON_MAX_JOBS_PER_USER:
        raise InvalidInput(
            f"You have reached the limit of {settings.CRON_MAX_JOBS_PER_USER} jobs; "
            "delete a job before creating another"
        )

    # Rounded up to a whole second: interval slots (anchor + k * interval) read cleanly in the API,
    # and the first run is still at least one interval after the request.
    now = schedules.whole_second_after(timezone.now())
    before = _settings(existing) if existing is not None else None
    job = existing or CronJob(job_id=job_id, owner=owner)
    job.workflow = workflow
    job.input_text = input_text
    job.schedule_type = spec.schedule_type
    job.cron_expression = spec.cron.source if spec.cron else ""
    job.interval_seconds = spec.interval_seconds
    job.timezone = spec.timezone
    job.paused = False  # a replaced job is a new schedule, running
    job.pause_reason, job.paused_at = "", None
    job.pause_after_failures = pause_after_failures
    job.notify, job.failing = notifications.validated(notify), False
    job.anchor = now
    job.misfire_grace_seconds = misfire_grace_seconds
    job.overlap = overlap
    old_tags = existing.tags if existing is not None else []
    job.tags, job.metadata = tags, metadata
    # The first slot strictly after the (new) anchor: a replace never fires the new schedule early.
    job.next_fire_at = job.next_fire_after(now)
    if existing is not None and _drop_prepared(existing):
        del job.last_run_at, job.last_run_status  # the newest run may have been the one dropped
    write_periodic_task(job, now=now)
    if existing is None:
        insert_row(job)
    else:
        update_row(job, JOB_COLUMNS)
    tag_rules.write_tag_rows(JobTag.objects.filter(job=job), lambda tag: JobTag(job=job, tag=tag), tags, old_tags)
    if before is None:
        _audit(job, Action.CREATED, actor=caller, via=via, **_settings(job))
    else:
        after = _settings(job)
        changed = {field: [before[field], after[field]] for field in AUDITED_FIELDS if before[field] != after[field]}
        _audit(job, Action.REPLACED, actor=caller, via=via, **changed)
    if existing is None:
        job.last_run_at, job.last_run_status = None, None  # a new job has no runs: nothing to read back
    return job


def _set_paused(job: CronJob, paused: bool, *, reason: str = "") -> bool:
    """Pause or resume the job; returns whether that changed it."""
    if job.paused == paused:
        return False
    now = timezone.now()
    job.paused = paused
    job.paused_at, job.pause_reason = (now, reason) if paused else (None, "")
    if paused:
        job.next_fire_at = None
        _drop_prepared(job)
    else:
        # Resume continues from the first slot after now: slots missed while paused are not replayed.
        job.next_fire_at = job.next_fire_after(now)
    write_periodic_task(job, now=now)
    update_row(job, ["paused", "paused_at", "pause_reason", "next_fire_at", "prepared_for", "updated_at"])
    return True


def _drop_prepared(job: CronJob) -> bool:
    """Delete the run a beat prepared for a slot still to come (claimed ahead, not yet published);
    returns whether there was one.

    Called with the job locked, in the transaction that pauses or replaces it: that slot is no
    longer on the job's schedule. The beat holding its message still sends it at the slot, and
    execute_run, finding no row, does nothing. A run whose slot has come stays: it has fired.
    Only a beat's claim ahead records a run for a slot still to come, and it sets prepared_for to
    that slot in the same transaction: without one still to come there is nothing to look for.
    """
    now = timezone.now()
    prepared, job.prepared_for = job.prepared_for, None
    if prepared is None or prepared <= now:
        return False
    runs = Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE, status=Run.Status.QUEUED, scheduled_for__gt=now)
    dropped = list(runs.values_list("id", flat=True))
    if dropped:
        _tell_deleted(job, dropped)
        runs.delete()
    return bool(dropped)


def _tell_deleted(job: CronJob, run_ids: list) -> None:
    """Streams that were told of these runs hear that they are gone."""
    events.publish_on_commit(RunEvent(events.DELETED, run_id, job.owner_id, job.pk) for run_id in run_ids)


@transaction.atomic
def job_pause(*, user: AbstractBaseUser, job_id: str, via: str = Via.API) -> CronJob:
    job = job_get_for(user=user, job_id=job_id, action="pause", lock=True)
    if _set_paused(job, True):
        _audit(job, Action.PAUSED, actor=user, via=via, paused=[False, True])
    return job


@transaction.atomic
def job_resume(*, user: AbstractBaseUser, job_id: str, via: str = Via.API) -> CronJob:
    job = job_get_for(user=user, job_id=job_id, action="resume", lock=True)
    reason = job.pause_reason
    if _set_paused(job, False):
        cleared = {"pause_reason": [reason, ""]} if reason else {}
        _audit(job, Action.RESUMED, actor=user, via=via, paused=[True, False], **cleared)
    return job


@transaction.atomic
def job_delete(*, user: AbstractBaseUser, job_id: str, via: str = Via.API) -> None:
    job = job_get_for(user=user, job_id=job_id, action="delete", lock=True)
    # The job's settings as they were: its history outlives the row.
    _audit(job, Action.DELETED, actor=user, via=via, **_settings(job))
    _tell_deleted(job, list(job.runs.values_list("id", flat=True)))
    job.delete()  # its PeriodicTask goes with it (periodic_tasks), in this transaction


@transaction.atomic
def job_run_ended(*, job_pk: int) -> None:
    """A run of the job succeeded or failed (sent by its worker when the job pauses after failures
    or notifies): pause it, notify of a transition. Decided from the job's newest ended runs as they
    are now, so reports arriving late or twice change nothing."""
    job = CronJob.objects.select_for_update(of=("self",)).select_related("owner", "workflow")
    job = job.filter(pk=job_pk).first()
    if job is None:
        return
    window = max(job.pause_after_failures, (job.notify or {}).get("after_consecutive_failures", 1))
    ended = list(
        job.runs.filter(status__in=(Run.Status.SUCCEEDED, Run.Status.FAILED))
        .order_by("-created_at", "-pk")
        .values_list("id", "status", "error")[:window]
    )
    streak = next((index for index, (_, status, _) in enumerate(ended) if status != Run.Status.FAILED), len(ended))
    notifications.on_outcome(job, ended, streak)
    job_pause_after_failures(job_pk=job_pk)


@transaction.atomic
def job_pause_after_failures(*, job_pk: int) -> bool:
    """Pause the job if its newest ended runs are pause_after_failures failures in a row (sent by
    the worker of each failed run of a job with the option). Returns whether it paused the job.
    Safe to run twice: a paused job stays as it is."""
    job = CronJob.objects.select_for_update(of=("self", "periodic_task")).select_related("periodic_task")
    job = job.filter(pk=job_pk).first()
    if job is None or job.paused or not job.pause_after_failures:
        return False
    count = job.pause_after_failures
    ended = list(
        job.runs.filter(status__in=(Run.Status.SUCCEEDED, Run.Status.FAILED))
        .order_by("-created_at", "-pk")
        .values_list("id", "status", "error")[:count]
    )
    if len(ended) < count or any(status != Run.Status.FAILED for _, status, _ in ended):
        return False
    newest, _, error = ended[0]
    reason = f"Paused after {count} consecutive failed runs; the last, run {newest}, failed: {error}"
    _set_paused(job, True, reason=reason[: CronJob._meta.get_field("pause_reason").max_length])
    _audit(
        job,
        Action.PAUSED_AFTER_FAILURES,
        actor=None,
        via=Via.SYSTEM,
        paused=[False, True],
        pause_reason=job.pause_reason,
        consecutive_failures=count,
        last_run_id=str(newest),
    )
    logger.warning("job %s paused after %d consecutive failed runs", job.job_id, count)
    return True


@transaction.atomic
def job_backfill(
    *, user: AbstractBaseUser, job_id: str, start: datetime, end: datetime, via: str = Via.API
) -> tuple[list[Run], int]:
    """Record a run for each slot of the job's schedule from ``start`` to ``end`` (both included, in
    the job's zone) that has no run yet; returns them and how many slots already had one.

    They wait their turn (``dispatch.backfill_release``): oldest first, one at a time under the
    job's overlap policy skip. Only past slots, and only those before the job's next_fire_at: the
    ones from there on are the scheduler's. A slot counts as run unless its run was skipped.
    """
    job = job_get_for(user=user, job_id=job_id, action="backfill", lock=True)
    now = timezone.now()
    if start > end:
        raise InvalidInput("start must not be after end")
    if end > now:
        raise InvalidInput("end must not be in the future: a backfill runs slots that have passed")
    last = end if job.next_fire_at is None else min(end, job.next_fire_at - timedelta(microseconds=1))
    cap = settings.BACKFILL_MAX_SLOTS
    slots = list(
        itertools.islice(
            itertools.takewhile(lambda slot: slot <= last, job.fire_times(start - timedelta(microseconds=1))), cap + 1
        )
    )
    if len(slots) > cap:
        raise InvalidInput(
            f"start to end holds more than {cap} slots of this job's schedule; backfill at most {cap} at a time"
        )
    already = set(
        job.runs.filter(scheduled_for__gte=start, scheduled_for__lte=end)
        .exclude(status=Run.Status.SKIPPED)
        .values_list("scheduled_for", flat=True)
    )
    # Compared in UTC: a zoned time in a repeated hour (a DST change) never equals a time in
    # another zone, even at the same instant (PEP 495).
    slots = [slot.astimezone(UTC) for slot in slots]
    runs = [
        Run(
            workflow=job.workflow,
            owner=job.owner,
            job=job,
            trigger=Run.Trigger.BACKFILL,
            scheduled_for=slot,
            input_text=job.input_text,
            wait_reason=Run.WaitReason.BACKFILL,
            tags=job.tags,
        )
        for slot in slots
        if slot not in already
    ]
    Run.objects.bulk_create(runs)
    events.publish_on_commit(RunEvent(events.CREATED, run.id, job.owner_id, job.pk) for run in runs)
    if runs:
        transaction.on_commit(lambda: backfill_release([job.pk]))
        _audit(
            job,
            Action.BACKFILLED,
            actor=user,
            via=via,
            start=start.isoformat(),
            end=end.isoformat(),
            runs_created=len(runs),
            slots_already_run=len(slots) - len(runs),
        )
    return runs, len(slots) - len(runs)


@transaction.atomic
def job_cancel_runs(*, user: AbstractBaseUser, job_id: str, via: str = Via.API) -> tuple[int, int]:
    """Cancel every queued or running run of the job (runs_cancel)."""
    job = job_get_for(user=user, job_id=job_id, action="cancel the runs of", last_run=False)
    cancelled, stopping = runs_cancel(job.runs.all(), by=user)
    if cancelled or stopping:
        _audit(job, Action.RUNS_CANCELLED, actor=user, via=via, cancelled=cancelled, stopping=stopping)
    return cancelled, stopping


@transaction.atomic
def job_trigger(*, user: AbstractBaseUser, job_id: str, via: str = Via.API) -> Run:
    """Run the job's workflow now, outside its schedule."""
    job = job_get_for(user=user, job_id=job_id, action="trigger", last_run=False)
    run = run_enqueue(
        workflow=job.workflow, owner=job.owner, job=job, trigger=Run.Trigger.MANUAL, input_text=job.input_text
    )
    _audit(job, Action.TRIGGERED, actor=user, via=via, run_id=str(run.id))
    return run
