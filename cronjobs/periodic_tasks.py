"""Each job's django-celery-beat ``PeriodicTask``: the row operators see in the admin (and Flower),
and what the stock ``DatabaseScheduler`` reads when it is chosen for comparison (BEAT_SCHEDULER).

Our beat (``cronjobs.beat``) fires jobs by their own ``next_fire_at`` and never reads these rows;
they mirror the job. ``write_periodic_task`` brings a job's row in line with the job and
``delete_periodic_task`` removes it; both run in the transaction that changes the job, and bump
django-celery-beat's change marker (how the stock scheduler learns it must reload) when that
scheduler is the configured one.

The cron expression is stored as celery crontab fields, for reading only: celery's crontab ANDs a
restricted day-of-month with a restricted day-of-week where cron ORs them, and handles DST gaps
differently, so those fields never decide when a job fires.
"""

import functools
import json
import logging
from datetime import datetime, timedelta

from celery.schedules import ParseException, crontab_parser
from cronsim import CronSim
from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from vingine.errors import Conflict
from vingine.rows import insert_row, update_values
from workflows.models import Run
from workflows.runs import run_enqueue

from . import schedules
from .models import CronJob

logger = logging.getLogger(__name__)

FIRE_TASK = "cronjobs.tasks.fire_job"
STOCK_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# (celery crontab_parser max, min) per field, in cron order.
CELERY_RANGES = ((60, 0), (24, 0), (31, 1), (12, 1), (7, 0))


def write_periodic_task(job: CronJob, *, now: datetime) -> None:
    """Create or update the job's PeriodicTask to match the job (schedule, zone, paused); set it on
    ``job.periodic_task``. Conflict when an operator's own task already has the job's name.

    Written with one INSERT or UPDATE, not ``PeriodicTask.save()``: its validation and its signals'
    change marker cost most of a job write, and only the stock scheduler reads the marker, so it is
    bumped only when that scheduler is the one configured (``_tell_the_stock_scheduler``).
    """
    values = {
        "kwargs": json.dumps({"job_id": job.job_id}),
        "enabled": not job.paused,
        "description": f"Workflow {job.workflow.workflow_id} for user {job.owner.get_username()}",
        "crontab_id": None,
        "interval_id": None,
        "date_changed": now,
    }
    if job.schedule_type == schedules.ScheduleType.CRON:
        minute, hour, day, month, dow = crontab_fields(job.cron_expression)
        values["crontab_id"] = _shared_row(
            CrontabSchedule,
            minute=minute,
            hour=hour,
            day_of_month=day,
            month_of_year=month,
            day_of_week=dow,
            timezone=job.timezone,
        )
    else:
        values["interval_id"] = _shared_row(
            IntervalSchedule, every=job.interval_seconds, period=IntervalSchedule.SECONDS
        )
    # The stock scheduler counts the next fire from last_run_at: the job's latest slot boundary, so
    # that a new or resumed schedule neither fires early nor replays what it missed. A disabled task
    # has none (as PeriodicTask.save() leaves it).
    if job.paused:
        values["last_run_at"] = None
    elif job.interval_seconds:
        every = timedelta(seconds=job.interval_seconds)
        values["last_run_at"] = job.anchor + every * max(0, (now - job.anchor) // every)
    else:
        values["last_run_at"] = now
    if job.periodic_task_id is None:
        if _task_named(job.job_id):
            raise Conflict(f"job_id '{job.job_id}' is taken by an operator's periodic task; choose another job_id")
        task = PeriodicTask(name=job.job_id, task=FIRE_TASK, **values)
        insert_row(task)
        job.periodic_task = task
    else:
        update_values(PeriodicTask, job.periodic_task_id, values)
    _tell_the_stock_scheduler()


def _task_named(name: str) -> bool:
    quote = connection.ops.quote_name
    table, column = quote(PeriodicTask._meta.db_table), quote(PeriodicTask._meta.get_field("name").column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {column} = %s", [name])
        return cursor.fetchone() is not None


def delete_periodic_task(job: CronJob) -> None:
    # A plain DELETE: a model or queryset delete sends django-celery-beat's signals and looks for the
    # job that protects the row, which is being deleted already.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(PeriodicTask._meta.db_table)} WHERE id = %s",
            [job.periodic_task_id],
        )
    _tell_the_stock_scheduler()


def _tell_the_stock_scheduler() -> None:
    """Bump django-celery-beat's change marker, which its DatabaseScheduler polls to reload every
    row, when that scheduler is the configured one (BEAT_SCHEDULER, read by every process)."""
    if settings.CELERY_BEAT_SCHEDULER == STOCK_SCHEDULER:
        PeriodicTasks.update_changed()


@receiver(post_delete, sender=CronJob)
def _delete_with_its_job(sender, instance: CronJob, **kwargs) -> None:
    """A job's PeriodicTask goes with it however the job is deleted (a service, or a cascade from its
    owner's deletion), so the stock scheduler never keeps firing a job that no longer exists."""
    delete_periodic_task(instance)


def _shared_row(model, **fields) -> int:
    """The key of the schedule row with these fields, created if missing.

    Rows are shared by every job with the same schedule. The tables have no unique constraint, so
    two first requests may each create one; taking the oldest keeps that harmless, where
    get_or_create would fail on every later request. Looked up in SQL built once: every job write
    asks, and building the query cost more than its answer.
    """
    sql, columns = _shared_row_sql(model, tuple(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                column.get_db_prep_value(value, connection)
                for column, value in zip(columns, fields.values(), strict=True)
            ],
        )
        found = cursor.fetchone()
    return found[0] if found else model.objects.create(**fields).pk


@functools.cache
def _shared_row_sql(model, names: tuple[str, ...]) -> tuple[str, list]:
    quote, meta = connection.ops.quote_name, model._meta
    columns = [meta.get_field(name) for name in names]
    where = " AND ".join(f"{quote(column.column)} = %s" for column in columns)
    pk = quote(meta.pk.column)
    return f"SELECT {pk} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {pk} LIMIT 1", columns


@functools.lru_cache(maxsize=4096)  # every write of a cron job asks; parsing each field with celery's parser costs
def crontab_fields(expression: str) -> tuple[str, str, str, str, str]:
    """The five CrontabSchedule fields for a cron expression parse_cron accepted: each field as the
    user wrote it when celery reads it the same way, else the explicit list of its values."""
    fields = schedules.parse_cron(expression).fields
    sim = CronSim(" ".join(fields), datetime(2000, 1, 1))
    values = (sim.minutes, sim.hours, sim.days, sim.months, sim.weekdays)
    return tuple(_celery_field(i, field, set(v)) for i, (field, v) in enumerate(zip(fields, values, strict=True)))


def _celery_field(index: int, field: str, values: set[int]) -> str:
    if index == 4:
        values = {v % 7 for v in values}  # cron allows 7 for Sunday; celery only 0
    max_, min_ = CELERY_RANGES[index]
    try:
        if crontab_parser(max_, min_).parse(field) == values:
            return field
    except (ParseException, ValueError):
        pass
    full = set(range(min_, min_ + max_)) if index != 4 else set(range(7))
    return "*" if values == full else ",".join(str(v) for v in sorted(values))


def job_fire(*, job_id: str, now: datetime | None = None) -> Run | None:
    """The stock DatabaseScheduler's entry point (``fire_job``), kept so that scheduler can still be
    run for comparison: queue the run of the slot that is due ``now`` (when beat fired). Our beat
    records runs itself and never sends this task.

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
