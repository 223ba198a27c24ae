"""Reads for cron jobs, each scoped to what the asking user may see."""

import functools

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEvent
from vingine.errors import Forbidden, NotFound
from vingine.pagination import Page
from vingine.rows import Joined
from workflows.models import Run
from workflows.run_filters import RunFilter
from workflows.selectors import runs_page_where

from .models import CronJob, JobTag, Notification

# What a job's answer shows: its owner and workflow, and its newest run's time and status
# (CronJob.last_run), read in the same statement.
_jobs = Joined(CronJob, ("owner", "workflow"))
_jobs_shown = Joined(
    CronJob,
    ("owner", "workflow"),
    extra=[("last_run_at", models.DateTimeField()), ("last_run_status", models.CharField())],
)


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@functools.cache
def _shown_select() -> str:
    """SELECT of jobs as an answer shows them (``t0``): the newest run's time and status come from
    two correlated subqueries, each one step down the (job, -created_at) index, not a query per job."""
    newest = (
        f"FROM {_table(Run)} r WHERE r.{_column(Run, 'job')} = t0.{_column(CronJob, 'id')}"
        f" ORDER BY r.{_column(Run, 'created_at')} DESC LIMIT 1"
    )
    return (
        f"SELECT {_jobs_shown.columns},"
        f" (SELECT COALESCE(r.{_column(Run, 'started_at')}, r.{_column(Run, 'created_at')}) {newest}),"
        f" (SELECT r.{_column(Run, 'status')} {newest}) FROM {_jobs_shown.tables}"
    )


@functools.cache
def _locked_select(shown: bool) -> str:
    """SELECT of a job (``t0``) by its id, locking it and its PeriodicTask row."""
    select = _shown_select() if shown else f"SELECT {_jobs.columns} FROM {_jobs.tables}"
    return (
        f"{select} INNER JOIN {_table(PeriodicTask)} p ON p.{_column(PeriodicTask, 'id')} ="
        f" t0.{_column(CronJob, 'periodic_task')} WHERE t0.{_column(CronJob, 'job_id')} = %s"
        f" {_jobs.lock('t0', 'p')}"
    )


def job_locked(job_id: str, *, last_run: bool = False) -> CronJob | None:
    """The job with this id, if any, it and its PeriodicTask row locked for the caller's
    transaction. ``last_run``: with its newest run's time and status, for an answer that shows it."""
    found = (_jobs_shown if last_run else _jobs).fetch(_locked_select(last_run), [job_id])
    return found[0] if found else None


def job_count(*, owner: AbstractBaseUser) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_table(CronJob)} WHERE {_column(CronJob, 'owner')} = %s", [owner.pk])
        return cursor.fetchone()[0]


def job_page(
    *, page: Page, user: AbstractBaseUser | None = None, tags: tuple[str, ...] = ()
) -> tuple[list[CronJob], int]:
    """One page of the user's jobs (every job when ``user`` is None: operators), by job id, and
    how many there are in all. With ``tags``, only the jobs that have every one of them."""
    conditions, params = [], []
    if user is not None:
        conditions.append(f"t0.{_column(CronJob, 'owner')} = %s")
        params.append(user.pk)
    for tag in tags:
        conditions.append(
            f"t0.{_column(CronJob, 'id')} IN (SELECT g.{_column(JobTag, 'job')}"
            f" FROM {_table(JobTag)} g WHERE g.{_column(JobTag, 'tag')} = %s)"
        )
        params.append(tag)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    shown = _jobs_shown.fetch(
        f"{_shown_select()}{where} ORDER BY t0.{_column(CronJob, 'job_id')} LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {_table(CronJob)} t0{where}", params)
            return cursor.fetchone()[0]

    return shown, page.total(shown, count)


def job_get_for(
    *, user: AbstractBaseUser, job_id: str, action: str = "access", lock: bool = False, last_run: bool = True
) -> CronJob:
    """The job, if ``user`` may act on it: 404 if it does not exist, 403 if someone else owns it.

    With ``lock`` the job and its PeriodicTask rows are locked for the caller's transaction.
    ``last_run`` reads the newest run's time and status too, for an answer that shows the job.
    """
    if "\x00" in job_id:
        # PostgreSQL refuses NUL in a query parameter; no id can contain one anyway.
        raise NotFound(f"Job {job_id} not found")
    if lock:
        found = _jobs.fetch(_locked_select(False), [job_id])
    elif last_run:
        found = _jobs_shown.fetch(f"{_shown_select()} WHERE t0.{_column(CronJob, 'job_id')} = %s", [job_id])
    else:
        found = _jobs.fetch(
            f"SELECT {_jobs.columns} FROM {_jobs.tables} WHERE t0.{_column(CronJob, 'job_id')} = %s", [job_id]
        )
    if not found:
        raise NotFound(f"Job {job_id} not found")
    job = found[0]
    if job.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this job")
    return job


def history_page_for_job(*, job: CronJob, page: Page) -> tuple[list[AuditEvent], int]:
    """One page of the changes to the job (under its id, so a job replaced after a delete shows
    both lives), newest first, and how many there are in all."""
    events = AuditEvent.objects.filter(kind=AuditEvent.Kind.JOB, object_id=job.job_id)
    shown = list(page.of(events.order_by("-at", "-pk")))
    return shown, page.total(shown, events.count)


def run_page_for_job(*, job: CronJob, page: Page, run_filter: RunFilter | None = None) -> tuple[list[Run], int]:
    """One page of the job's runs, newest first, and how many the filter lets through in all."""
    filtered, params = (run_filter or RunFilter()).where("t0")
    return runs_page_where([f"t0.{_column(Run, 'job')} = %s", *filtered], [job.pk, *params], page=page)


def notification_list(*, job: CronJob, limit: int = 50) -> list[Notification]:
    return list(job.notifications.order_by("-created_at", "-pk")[:limit])
