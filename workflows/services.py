"""Writes for workflows. Views and the admin call these; nothing else writes the table."""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from vingine import tags as tag_rules
from vingine.errors import Conflict, Forbidden, InvalidInput
from vingine.sql import lock_for_transaction

from . import events
from .events import RunEvent
from .models import Workflow, WorkflowTag
from .redaction import redact_steps, restore_redacted
from .selectors import workflow_get_for
from .steps import validate_steps

Action, Via = AuditEvent.Action, AuditEvent.Via


def _audit(workflow: Workflow, action: str, *, actor: AbstractBaseUser, via: str, **changes) -> None:
    audit_record(
        kind=AuditEvent.Kind.WORKFLOW,
        object_id=workflow.workflow_id,
        owner=workflow.owner,
        action=action,
        actor=actor,
        via=via,
        changes=changes,
    )


@transaction.atomic
def workflow_save(
    *,
    owner: AbstractBaseUser,
    workflow_id: str,
    name: str,
    steps: list[dict],
    tags: Sequence[str] = (),
    metadata: dict | None = None,
    actor: AbstractBaseUser | None = None,
    via: str = Via.API,
) -> Workflow:
    """Create the workflow, or replace the one ``owner`` already has under this id (its tags and
    metadata too: those not given are gone). ``actor`` is who asked, when not the owner (an
    operator in the admin).

    A header sent back as it is shown, redacted, keeps the value stored for it.
    """
    actor = actor or owner
    tags, metadata = tag_rules.checked(tags, {} if metadata is None else metadata)
    lock_for_transaction(f"workflow:{workflow_id}")
    # NO KEY: runs being committed meanwhile check their workflow with KEY SHARE, which this lets be.
    existing = Workflow.objects.select_for_update(no_key=True).filter(workflow_id=workflow_id).first()
    if existing is not None and existing.owner_id != owner.pk:
        raise Forbidden(f"Workflow id {workflow_id} belongs to another user; choose another workflow_id")
    if existing is not None:
        steps = restore_redacted(steps, existing.steps)
    problems = validate_steps(steps)
    if problems:
        raise InvalidInput("; ".join(problems))
    if existing is None:
        workflow = Workflow.objects.create(
            workflow_id=workflow_id, owner=owner, name=name, steps=steps, tags=tags, metadata=metadata
        )
        workflow_tag_rows_write(workflow=workflow, old_tags=[])
        # Secret header values stay out of the history, as out of every other place that shows steps.
        _audit(
            workflow,
            Action.CREATED,
            actor=actor,
            via=via,
            name=name,
            steps=redact_steps(steps),
            tags=tags,
            metadata=metadata,
        )
        return workflow
    changed = {}
    if existing.name != name:
        changed["name"] = [existing.name, name]
    # Compared as stored, shown redacted: a new secret value is a change even though both sides read the same.
    if existing.steps != steps:
        changed["steps"] = [redact_steps(existing.steps), redact_steps(steps)]
    for field, value in (("tags", tags), ("metadata", metadata)):
        if getattr(existing, field) != value:
            changed[field] = [getattr(existing, field), value]
    old_tags = existing.tags
    existing.name, existing.steps, existing.tags, existing.metadata = name, steps, tags, metadata
    existing.save(update_fields=["name", "steps", "tags", "metadata", "updated_at"])
    workflow_tag_rows_write(workflow=existing, old_tags=old_tags)
    _audit(existing, Action.REPLACED, actor=actor, via=via, **changed)
    return existing


def workflow_tag_rows_write(*, workflow: Workflow, old_tags: list[str]) -> None:
    """Make the workflow's WorkflowTag rows its ``tags`` (which were ``old_tags``), in the caller's
    transaction: the API and the admin save them with the workflow."""
    rows = WorkflowTag.objects.filter(workflow=workflow)
    tag_rules.write_tag_rows(rows, lambda tag: WorkflowTag(workflow=workflow, tag=tag), workflow.tags, old_tags)


@transaction.atomic
def workflow_delete(*, user: AbstractBaseUser, workflow_id: str, via: str = Via.API) -> None:
    # Locked, so a job being created for this workflow either commits first (and blocks the
    # delete) or waits and then finds the workflow gone.
    workflow = workflow_get_for(user=user, workflow_id=workflow_id, action="delete", lock=True)
    job_ids = list(workflow.cronjobs.values_list("job_id", flat=True)[:5])
    if job_ids:
        raise Conflict(
            f"Workflow {workflow_id} is used by jobs {', '.join(job_ids)}; delete or replace those jobs first"
        )
    _audit(workflow, Action.DELETED, actor=user, via=via, name=workflow.name, steps=redact_steps(workflow.steps))
    runs = list(workflow.runs.values_list("id", flat=True))  # its runs without a job go with it
    events.publish_on_commit(RunEvent(events.DELETED, run_id, workflow.owner_id, None) for run_id in runs)
    workflow.delete()
