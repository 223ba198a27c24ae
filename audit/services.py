"""Recording changes. Services call ``audit_record`` inside the transaction that makes the change,
so a change and its event are committed together or not at all."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from vingine.rows import insert_row

from .models import AuditEvent


def audit_record(
    *,
    kind: str,
    object_id: str,
    owner: AbstractBaseUser,
    action: str,
    actor: AbstractBaseUser | None,
    via: str,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one change; ``actor`` is None when the system acted on its own (``via`` system)."""
    event = AuditEvent(
        kind=kind,
        object_id=object_id,
        owner=owner,
        action=action,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        via=via,
        changes=changes or {},
    )
    insert_row(event)  # one INSERT built once: every change of every job and workflow writes one
    return event
