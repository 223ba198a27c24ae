"""Writes for workflows and runs. Views call these; nothing else writes these tables."""

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from vingine.errors import Conflict, Forbidden, InvalidInput, NotFound

from .models import Run, Workflow
from .runner import DynamicWorkflowRunner, validate_steps

logger = logging.getLogger(__name__)


def workflow_get_for(*, user: AbstractBaseUser, workflow_id: str, action: str = "access") -> Workflow:
    """The workflow, if ``user`` may act on it (its owner or staff)."""
    if "\x00" in workflow_id:
        # PostgreSQL refuses NUL in a query parameter; no id can contain one anyway.
        raise NotFound(f"Workflow {workflow_id} not found")
    workflow = Workflow.objects.select_related("owner").filter(workflow_id=workflow_id).first()
    if workflow is None:
        raise NotFound(f"Workflow {workflow_id} not found")
    if workflow.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this workflow")
    return workflow


@transaction.atomic
def workflow_save(*, owner: AbstractBaseUser, workflow_id: str, name: str, steps: list[dict]) -> Workflow:
    """Create the workflow, or replace the one ``owner`` already has under this id."""
    problems = validate_steps(steps)
    if problems:
        raise InvalidInput("; ".join(problems))
    existing = Workflow.objects.select_for_update().filter(workflow_id=workflow_id).first()
    if existing is not None:
        if existing.owner_id != owner.pk:
            raise Forbidden(f"Workflow id {workflow_id} belongs to another user; choose another workflow_id")
        existing.name, existing.steps = name, steps
        existing.save(update_fields=["name", "steps", "updated_at"])
        return existing
    return Workflow.objects.create(workflow_id=workflow_id, owner=owner, name=name, steps=steps)


@transaction.atomic
def workflow_delete(*, user: AbstractBaseUser, workflow_id: str) -> None:
    workflow = workflow_get_for(user=user, workflow_id=workflow_id, action="delete")
    job_ids = list(workflow.cronjobs.values_list("job_id", flat=True)[:5])
    if job_ids:
        raise Conflict(
            f"Workflow {workflow_id} is used by jobs {', '.join(job_ids)}; delete or replace those jobs first"
        )
    workflow.delete()


def run_enqueue(
    *,
    workflow: Workflow,
    owner: AbstractBaseUser,
    trigger: str,
    input_text: str,
    job=None,
    scheduled_for: datetime | None = None,
) -> Run:
    """Record a queued run and hand it to a worker once the row is committed."""
    from .tasks import execute_run  # tasks import services; import here to avoid a cycle

    with transaction.atomic():
        run = Run.objects.create(
            workflow=workflow,
            owner=owner,
            job=job,
            trigger=trigger,
            scheduled_for=scheduled_for,
            input_text=input_text,
        )
        # Publishing inside the transaction could let a worker look for a row it cannot see yet.
        transaction.on_commit(lambda: execute_run.delay(str(run.id)))
    return run


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_execute(*, run_id: uuid.UUID | str) -> Run | None:
    """Run a queued run. Safe to call twice: only the caller that claims the row runs it."""
    claimed = Run.objects.filter(id=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        # Another delivery of the same message got there first, or the run (or its job) is gone.
        logger.info("run %s not claimed: already taken or deleted", run_id)
        return None
    run = Run.objects.select_related("workflow").get(id=run_id)
    result = DynamicWorkflowRunner(run.workflow).run(run.input_text)
    run.status = Run.Status.SUCCEEDED if result.succeeded else Run.Status.FAILED
    run.output = _jsonable(result.output)
    run.steps = _jsonable(result.steps)
    run.error = result.error
    run.finished_at = timezone.now()
    # Only finish a run still marked running, so a concurrent delete or reaper is not overwritten.
    Run.objects.filter(id=run.id, status=Run.Status.RUNNING).update(
        status=run.status, output=run.output, steps=run.steps, error=run.error, finished_at=run.finished_at
    )
    return run
