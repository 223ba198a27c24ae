"""Reads for workflows and runs, each scoped to what the asking user may see."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from vingine.errors import Forbidden, NotFound

from .models import Run, Workflow


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
    run = Run.objects.select_related("job", "workflow", "owner", "cancelled_by").filter(id=run_id).first()
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    if run.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this run")
    return run
