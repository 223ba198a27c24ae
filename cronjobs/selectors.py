from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from workflows.models import Run

from .models import CronJob

JOB_RELATED = ("owner", "workflow", "periodic_task__crontab", "periodic_task__interval")


def job_list(*, user: AbstractBaseUser | None = None) -> QuerySet[CronJob]:
    """The user's jobs; every job when ``user`` is None (operators)."""
    jobs = CronJob.objects.select_related(*JOB_RELATED)
    return jobs if user is None else jobs.filter(owner=user)


def run_list_for_job(*, job: CronJob, limit: int) -> QuerySet[Run]:
    return job.runs.select_related("job", "workflow", "owner").order_by("-created_at")[:limit]
