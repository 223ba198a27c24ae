"""Reads for cron jobs, each scoped to what the asking user may see."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from audit.models import AuditEvent
from vingine.errors import Forbidden, NotFound
from vingine.pagination import Page
from workflows.models import Run
from workflows.run_filters import RunFilter
from workflows.selectors import RUN_RELATED

from .models import CronJob, JobTag, Notification

JOB_RELATED = ("owner", "workflow")  # what a job's answer shows


def _jobs() -> QuerySet[CronJob]:
    return CronJob.objects.select_related(*JOB_RELATED)


def with_last_run(jobs: QuerySet[CronJob]) -> QuerySet[CronJob]:
    """Each job with its newest run's time and status (``CronJob.last_run``), in the same query.

    Two correlated subqueries, each one step down the (job, -created_at) index, instead of a
    query per job.
    """
    newest = Run.objects.filter(job=OuterRef("pk")).order_by("-created_at")
    return jobs.annotate(
        last_run_at=Subquery(newest.annotate(at=Coalesce("started_at", "created_at")).values("at")[:1]),
        last_run_status=Subquery(newest.values("status")[:1]),
    )


def job_list(*, user: AbstractBaseUser | None = None, tags: tuple[str, ...] = ()) -> QuerySet[CronJob]:
    """The user's jobs; every job when ``user`` is None (operators). With ``tags``, only the jobs
    that have every one of them."""
    jobs = with_last_run(_jobs())
    for tag in tags:
        jobs = jobs.filter(pk__in=JobTag.objects.filter(tag=tag).values("job_id"))
    return jobs if user is None else jobs.filter(owner=user)


def job_get_for(
    *, user: AbstractBaseUser, job_id: str, action: str = "access", lock: bool = False, last_run: bool = True
) -> CronJob:
    """The job, if ``user`` may act on it: 404 if it does not exist, 403 if someone else owns it.

    With ``lock`` the job and its PeriodicTask rows are locked for the caller's transaction. The
    schedule rows are then read after the lock is held: a join read before it could miss a
    schedule that the transaction we waited for had just created. ``last_run`` reads the newest
    run's time and status too, for an answer that shows the job.
    """
    if "\x00" in job_id:
        # PostgreSQL refuses NUL in a query parameter; no id can contain one anyway.
        raise NotFound(f"Job {job_id} not found")
    if lock:
        jobs = CronJob.objects.select_related("owner", "workflow", "periodic_task").select_for_update(
            of=("self", "periodic_task")
        )
    else:
        jobs = _jobs()
        if last_run:
            jobs = with_last_run(jobs)
    job = jobs.filter(job_id=job_id).first()
    if job is None:
        raise NotFound(f"Job {job_id} not found")
    if job.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this job")
    return job


def history_page_for_job(*, job: CronJob, page: Page) -> tuple[list[AuditEvent], int]:
    """One page of the changes to the job (under its id, so a job replaced after a delete shows
    both lives), newest first, and how many there are in all."""
    events = AuditEvent.objects.filter(kind=AuditEvent.Kind.JOB, object_id=job.job_id)
    shown = list(page.of(events.order_by("-at", "-pk")))
    return shown, page.total(shown, events)


def run_page_for_job(*, job: CronJob, page: Page, run_filter: RunFilter | None = None) -> tuple[list[Run], int]:
    """One page of the job's runs, newest first, and how many the filter lets through in all."""
    runs = job.runs.all() if run_filter is None else run_filter.apply(job.runs.all())
    shown = list(page.of(runs.select_related(*RUN_RELATED).order_by("-created_at", "-pk")))
    return shown, page.total(shown, runs)


def notification_list(*, job: CronJob, limit: int = 50) -> list[Notification]:
    return list(job.notifications.order_by("-created_at", "-pk")[:limit])
