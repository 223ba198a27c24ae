"""Every row a request could write, to prove that a refused request wrote nothing."""

from django.contrib.auth import get_user_model
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from audit.models import AuditEvent
from cronjobs.models import CronJob, JobTag
from workflows.models import Run, Workflow, WorkflowTag

MODELS = (
    get_user_model(),
    Workflow,
    WorkflowTag,
    CronJob,
    JobTag,
    PeriodicTask,
    CrontabSchedule,
    IntervalSchedule,
    Run,
    AuditEvent,
)


def rows(model, **filters) -> list[dict]:
    return list(model.objects.filter(**filters).order_by("pk").values())


def snapshot() -> dict:
    """All rows of every table the API writes, and beat's change marker."""
    state = {model.__name__: rows(model) for model in MODELS}
    state["beat_last_change"] = PeriodicTasks.last_change()
    return state


def owned_by(user) -> dict:
    """The user's own rows: their account, workflows, jobs with their PeriodicTasks, and runs."""
    jobs = rows(CronJob, owner=user)
    return {
        "user": rows(get_user_model(), pk=user.pk),
        "workflows": rows(Workflow, owner=user),
        "workflow_tags": rows(WorkflowTag, workflow__owner=user),
        "jobs": jobs,
        "job_tags": rows(JobTag, job__owner=user),
        "periodic_tasks": rows(PeriodicTask, pk__in=[job["periodic_task_id"] for job in jobs]),
        "runs": rows(Run, owner=user),
        "audit_events": rows(AuditEvent, owner=user),
    }
