import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from vingine.errors import Forbidden, NotFound

from .models import Run, Workflow


def workflow_list(*, user: AbstractBaseUser) -> QuerySet[Workflow]:
    return Workflow.objects.filter(owner=user).select_related("owner")


def run_get_for(*, user: AbstractBaseUser, run_id: str) -> Run:
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise NotFound(f"Run {run_id} not found") from None
    run = Run.objects.select_related("job", "workflow", "owner").filter(id=run_id).first()
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    if run.owner_id != user.pk and not user.is_staff:
        raise Forbidden("You don't have permission to access this run")
    return run
