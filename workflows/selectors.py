"""Reads for workflows and runs, each scoped to what the asking user may see."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from cronjobs.models import CronJob
from vingine.errors import Forbidden, NotFound
from vingine.pagination import Page

from .models import Run, Workflow
from .run_filters import RunFilter

RUN_RELATED = ("job", "workflow", "owner", "cancelled_by")  # what a run's answer shows


def workflow_list(*, user: AbstractBaseUser) -> QuerySet[Workflow]:
    return Workflow.objects.filter(owner=user).select_related("owner").order_by("workflow_id")


def workflow_get_for(
    *, user: AbstractBaseUser, workflow_id: str, action: str = "access", lock: bool = False
) -> Workflow:
    """The workflow, if ``user`` may act on it (its owner or staff): 404 if missing, 403 if not theirs."""
    if "\x00" in workflow_id:
        # PostgreSQL refuses NUL in a query parameter; no id can contain one anyway.
        raise NotFound(f"Workflow {workflow_id} not found")
    workflows = Workflow.objects.select_related("owner")
    if lock:
        workflows = workflows.select_for_update(of=("self",))
    workflow = workflows.filter(workflow_id=workflow_id).first()
    if workflow is None:
        raise NotFound(f"Workflow {workflow_id} not found")
    if workflow.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this workflow")
    return workflow


def run_get_for(*, user: AbstractBaseUser, run_id: str, action: str = "access") -> Run:
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise NotFound(f"Run {run_id} not found") from None
    run = Run.objects.select_related(*RUN_RELATED).filter(id=run_id).first()
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    if run.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this run")
    return run


def run_page(
    *, user: AbstractBaseUser, run_filter: RunFilter, page: Page, job_id: str | None = None
) -> tuple[list[Run], int]:
    """One page of the user's own runs (staff too: this is not the operators' view), newest first,
    and how many the filter lets through in all; only those of their job ``job_id`` if given."""
    runs = Run.objects.filter(owner=user)
    if job_id is not None:
        # By the job's key, so the list reads down the (job, -created_at) index.
        job_pk = CronJob.objects.filter(owner=user, job_id=job_id).values_list("pk", flat=True).first()
        if job_pk is None:
            return [], 0
        runs = runs.filter(job_id=job_pk)
    runs = run_filter.apply(runs)
    shown = list(page.of(runs.select_related(*RUN_RELATED).order_by("-created_at", "-pk")))
    return shown, page.total(shown, runs.count)
