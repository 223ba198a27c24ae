from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """One change to a job or a workflow: what changed, who changed it, when, and through what.

    Events name their object by its id, not by a foreign key, so a deleted job's history stays.
    """

    class Kind(models.TextChoices):
        JOB = "job"
        WORKFLOW = "workflow"

    class Action(models.TextChoices):
        CREATED = "created"
        REPLACED = "replaced"
        PAUSED = "paused"
        RESUMED = "resumed"
        TRIGGERED = "triggered"
        DELETED = "deleted"
        BACKFILLED = "backfilled"
        RUNS_CANCELLED = "runs_cancelled", "Runs cancelled"
        PAUSED_AFTER_FAILURES = "paused_after_failures", "Paused after failures"

    class Via(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin"
        SYSTEM = "system"  # the service acted on its own: no actor

    kind = models.CharField(max_length=16, choices=Kind.choices)
    object_id = models.CharField(max_length=200)  # the job_id or workflow_id
    # Whose object it was, for access checks; a user's history goes with the user, as their jobs do.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events")
    action = models.CharField(max_length=32, choices=Action.choices)
    # The actor's name is kept beside the link: an event keeps saying who acted after that
    # account is deleted. Both are empty for the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=8, choices=Via.choices)
    at = models.DateTimeField(default=timezone.now)
    # replaced: {field: [before, after]} for each field that changed; other actions: their details.
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["kind", "object_id", "-at"], name="audit_object_newest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} {self.action}"
