"""Writes for cron jobs. A job and its django-celery-beat PeriodicTask (``periodic_tasks``) change
together, in one transaction, or not at all.

Beat fires by the job's ``next_fire_at``: every write that changes when a job fires sets it in the
same transaction, and beat reads it on its next tick.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from vingine.errors import Forbidden, InvalidInput, NotFound
from vingine.sql import lock_for_transaction
from workflows.models import Run, Workflow
from workflows.runs import run_enqueue

from . import schedules
from .models import CronJob
from .periodic_tasks import write_periodic_task
from .schedules import ScheduleSpec
from .selectors import job_get_for

logger = logging.getLogger(__name__)

RESERVED_JOB_IDS = {"all", "cron", "interval"}  # would collide with /api/cron/jobs/<these>
OWN_WORKFLOWS_ONLY = "Unauthorized: You can only run your own workflows."


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

    if existing is None:
        # Serialise this owner's creates so two at once cannot both pass the quota check (after the
        # job id's lock, as every create takes them).
        lock_for_transaction(f"jobs-of-user:{owner.pk}")
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
    write_periodic_task(job, now=now)
    job.save()
    if existing is None:
        job.last_run_at, job.last_run_status = None, None  # a new job has no runs: nothing to read back
    return job


def _set_paused(job: CronJob, paused: bool) -> None:
    if job.paused == paused:
        return
    now = timezone.now()
    job.paused = paused
    if paused:
        job.next_fire_at = None
        _drop_prepared(job)
    else:
        # Resume continues from the first slot after now: slots missed while paused are not replayed.
        job.next_fire_at = job.next_fire_after(now)
    write_periodic_task(job, now=now)
    job.save(update_fields=["paused", "next_fire_at", "prepared_for", "updated_at"])


def _drop_prepared(job: CronJob) -> None:
    """Delete the run a beat prepared for a slot still to come (claimed ahead, not yet published).

    Called with the job locked, in the transaction that pauses or replaces it: that slot is no
    longer on the job's schedule. The beat holding its message still sends it at the slot, and
    execute_run, finding no row, does nothing. A run whose slot has come stays: it has fired.
    """
    Run.objects.filter(
        job=job, trigger=Run.Trigger.SCHEDULE, status=Run.Status.QUEUED, scheduled_for__gt=timezone.now()
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
    job.delete()  # its PeriodicTask goes with it (periodic_tasks), in this transaction


def job_trigger(*, user: AbstractBaseUser, job_id: str) -> Run:
    """Run the job's workflow now, outside its schedule."""
    job = job_get_for(user=user, job_id=job_id, action="trigger", last_run=False)
    return run_enqueue(
        workflow=job.workflow, owner=job.owner, job=job, trigger=Run.Trigger.MANUAL, input_text=job.input_text
    )
