"""Writes for cron jobs. A job and its django-celery-beat PeriodicTask change together or not at all.

Our scheduler fires by the job's ``next_fire_at``: every write that changes when a job fires sets
it in the same transaction, and the scheduler reads it on its next tick.

PeriodicTask rows stay the operator-visible mapping and are what the stock DatabaseScheduler
reads when it is chosen for comparison (BEAT_SCHEDULER). They are always written with
``.save()``/``.delete()``: their signals bump django-celery-beat's change marker, which is how
that scheduler learns it must reload.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from vingine.errors import Conflict, Forbidden, InvalidInput, NotFound
from vingine.locks import lock_for_transaction
from workflows.models import Run, Workflow
from workflows.services import run_enqueue

from . import schedules
from .models import CronJob
from .selectors import job_get_for

logger = logging.getLogger(__name__)

FIRE_TASK = "cronjobs.tasks.fire_job"
RESERVED_JOB_IDS = {"all", "cron", "interval"}  # would collide with /api/cron/jobs/<these>
OWN_WORKFLOWS_ONLY = "Unauthorized: You can only run your own workflows."


@dataclass(frozen=True)
class ScheduleSpec:
    schedule_type: str
    timezone: str
    cron: schedules.CronExpression | None = None
    interval_seconds: int | None = None


def cron_spec(*, expression: str, timezone_name: str = "UTC") -> ScheduleSpec:
    schedules.parse_timezone(timezone_name)
    return ScheduleSpec(CronJob.ScheduleType.CRON, timezone_name, cron=schedules.parse_cron(expression))


def interval_spec(*, hours: int = 0, minutes: int = 0, seconds: int = 0, timezone_name: str = "UTC") -> ScheduleSpec:
    schedules.parse_timezone(timezone_name)
    total = schedules.interval_seconds(
        hours=hours, minutes=minutes, seconds=seconds, minimum=settings.CRON_MIN_INTERVAL_SECONDS
    )
    return ScheduleSpec(CronJob.ScheduleType.INTERVAL, timezone_name, interval_seconds=total)


def _resolve_owner(*, caller: AbstractBaseUser, user_id: str | None) -> AbstractBaseUser:
    if user_id is None or user_id == caller.get_username():
        return caller
    if not caller.is_staff:
        raise Forbidden(OWN_WORKFLOWS_ONLY)
    owner = get_user_model().objects.filter(username=user_id).first()
    if owner is None:
        raise InvalidInput(f"user_id {user_id} is not a known user")
    return owner


def _shared_row(model, **fields):
    """The schedule row with these fields, created if missing.

    Rows are shared by every job with the same schedule. The tables have no unique constraint, so
    two first requests may each create one; taking the oldest keeps that harmless, where
    get_or_create would fail on every later request.
    """
    return model.objects.filter(**fields).order_by("pk").first() or model.objects.create(**fields)


def _apply_schedule(task: PeriodicTask, spec: ScheduleSpec, anchor: datetime) -> None:
    if spec.cron is not None:
        minute, hour, day, month, dow = spec.cron.celery_fields
        task.crontab = _shared_row(
            CrontabSchedule,
            minute=minute,
            hour=hour,
            day_of_month=day,
            month_of_year=month,
            day_of_week=dow,
            timezone=spec.timezone,
        )
        task.interval = None
    else:
        task.interval = _shared_row(IntervalSchedule, every=spec.interval_seconds, period=IntervalSchedule.SECONDS)
        task.crontab = None
    # Beat counts the next fire from last_run_at, so the new schedule starts at its anchor.
    task.last_run_at = anchor


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
) -> CronJob:
    """Create a job, or atomically replace the caller's job with the same id."""
    if overlap not in CronJob.Overlap.values:
        raise InvalidInput(f"overlap must be one of {', '.join(CronJob.Overlap.values)}")
    if not 1 <= misfire_grace_seconds <= CronJob.MAX_MISFIRE_GRACE_SECONDS:
        raise InvalidInput(f"misfire_grace_seconds must be from 1 to {CronJob.MAX_MISFIRE_GRACE_SECONDS}")
    if job_id in RESERVED_JOB_IDS:
        raise InvalidInput(f"job_id '{job_id}' is reserved; choose another job_id")
    lock_for_transaction(f"cronjob:{job_id}")
    existing = (
        CronJob.objects.select_for_update(of=("self", "periodic_task"))
        .select_related("owner", "periodic_task")
        .filter(job_id=job_id)
        .first()
    )
    if user_id is None and caller.is_staff and existing is not None:
        # An operator replacing someone's job without naming a user keeps the job's owner.
        owner = existing.owner
    else:
        owner = _resolve_owner(caller=caller, user_id=user_id)
    # Locked so the workflow cannot be deleted between this check and our commit. NO KEY: the
    # scheduler's foreign-key checks (KEY SHARE, as it commits new runs) must not wait for us, nor
    # we for them: each holding one row the other wants was a deadlock.
    workflow = Workflow.objects.select_for_update(no_key=True).filter(workflow_id=workflow_id).first()
    if workflow is None:
        raise NotFound(f"Workflow {workflow_id} not found")
    if workflow.owner_id != owner.pk:
        raise Forbidden(OWN_WORKFLOWS_ONLY)
    if existing is not None and existing.owner_id != owner.pk:
        raise Forbidden(
            f"You don't have permission to replace this job: job id {job_id} belongs to another user; "
            "choose another job_id"
        )

    # Serialise this owner's writes so two concurrent creates cannot both pass the quota check.
    get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
    if existing is None and CronJob.objects.filter(owner=owner).count() >= settings.CRON_MAX_JOBS_PER_USER:
        raise InvalidInput(
            f"You have reached the limit of {settings.CRON_MAX_JOBS_PER_USER} jobs; "
            "delete a job before creating another"
        )

    # Rounded up to a whole second: interval slots (anchor + k * interval) read cleanly in the API,
    # and the first run is still at least one interval after the request.
    now = schedules.whole_second_after(timezone.now())
    job = existing or CronJob(job_id=job_id, owner=owner)
    job.workflow = workflow
    job.input_text = input_text
    job.schedule_type = spec.schedule_type
    job.cron_expression = spec.cron.source if spec.cron else ""
    job.interval_seconds = spec.interval_seconds
    job.timezone = spec.timezone
    job.paused = False  # a replaced job is a new schedule, running
    job.anchor = now
    job.misfire_grace_seconds = misfire_grace_seconds
    job.overlap = overlap
    # The first slot strictly after the (new) anchor: a replace never fires the new schedule early.
    job.next_fire_at = job.next_fire_after(now)
    if existing is not None:
        _drop_prepared(existing)

    if existing is None and PeriodicTask.objects.filter(name=job_id).exists():
        raise Conflict(f"job_id '{job_id}' is taken by an operator's periodic task; choose another job_id")
    task = existing.periodic_task if existing else PeriodicTask(name=job_id, task=FIRE_TASK)
    task.kwargs = json.dumps({"job_id": job_id})
    task.enabled = True
    task.no_changes = False  # make the save signal tell beat to reload
    task.description = f"Workflow {workflow.workflow_id} for user {owner.get_username()}"
    _apply_schedule(task, spec, now)
    task.save()
    job.periodic_task = task
    job.save()
    return job


def _set_paused(job: CronJob, paused: bool) -> None:
    if job.paused == paused:
        return
    task = job.periodic_task
    task.enabled = not paused
    task.no_changes = False
    if paused:
        job.next_fire_at = None
        _drop_prepared(job)
    else:
        # Resume continues from the first slot after now: slots missed while paused are not replayed.
        now = timezone.now()
        job.next_fire_at = job.next_fire_after(now)
        if job.interval_seconds:  # the same for the stock scheduler, which counts from last_run_at
            every = timedelta(seconds=job.interval_seconds)
            task.last_run_at = job.anchor + every * ((now - job.anchor) // every)
        else:
            task.last_run_at = now
    task.save()
    job.paused = paused
    job.save(update_fields=["paused", "next_fire_at", "prepared_for", "updated_at"])


def _drop_prepared(job: CronJob) -> None:
    """Delete the run a beat prepared for a slot still to come (claimed ahead, not yet published).

    Called with the job locked, in the transaction that pauses or replaces it: that slot is no
    longer on the job's schedule. The beat holding its message still sends it at the slot, and
    execute_run, finding no row, does nothing. A run whose slot has come stays: it has fired.
    """
    Run.objects.filter(
        job=job,
        trigger=Run.Trigger.SCHEDULE,
        status=Run.Status.QUEUED,
        published_at__isnull=True,
        scheduled_for__gt=timezone.now(),
    ).delete()
    job.prepared_for = None


@transaction.atomic
def job_pause(*, user: AbstractBaseUser, job_id: str) -> CronJob:
    job = job_get_for(user=user, job_id=job_id, action="pause", lock=True)
    _set_paused(job, True)
    return job


@transaction.atomic
def job_resume(*, user: AbstractBaseUser, job_id: str) -> CronJob:
    job = job_get_for(user=user, job_id=job_id, action="resume", lock=True)
    _set_paused(job, False)
    return job


@transaction.atomic
def job_delete(*, user: AbstractBaseUser, job_id: str) -> None:
    job = job_get_for(user=user, job_id=job_id, action="delete", lock=True)
    job.delete()  # its PeriodicTask goes with it (cronjobs.signals), and beat is told


def job_trigger(*, user: AbstractBaseUser, job_id: str) -> Run:
    """Run the job's workflow now, outside its schedule."""
    job = job_get_for(user=user, job_id=job_id, action="trigger")
    return run_enqueue(
        workflow=job.workflow, owner=job.owner, job=job, trigger=Run.Trigger.MANUAL, input_text=job.input_text
    )


def job_fire(*, job_id: str, now: datetime | None = None) -> Run | None:
    """The stock DatabaseScheduler's entry point (``fire_job``), kept so that scheduler can still be
    run for comparison: queue the run of the slot that is due ``now`` (when beat fired). Our
    scheduler records runs itself (cronjobs.scheduler) and never sends this task.

    Nothing happens if the job was paused or deleted meanwhile, if the fire belongs to no slot of
    the job's current schedule (sent before a replace, or early after one), or if the slot already
    has a run: a second delivery of the same fire must not run a slot twice.
    """
    job = CronJob.objects.select_related("workflow", "owner").filter(job_id=job_id, paused=False).first()
    if job is None:
        return None
    now = now or timezone.now()
    slot = job.slot_at(now)
    if slot is None:
        logger.info("job %s: fire at %s belongs to no slot of its current schedule", job_id, now.isoformat())
        return None
    try:
        return run_enqueue(
            workflow=job.workflow,
            owner=job.owner,
            job=job,
            trigger=Run.Trigger.SCHEDULE,
            input_text=job.input_text,
            scheduled_for=slot,
        )
    except IntegrityError:
        if not Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE, scheduled_for=slot).exists():
            raise  # not the one-run-per-slot rule: a real error
        logger.info("job %s slot %s already has a run; not firing it again", job_id, slot.isoformat())
        return None
