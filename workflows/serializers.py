from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vingine.fields import IdField, MetadataField, StrictCharField, TagsField
from vingine.output import BlankAsNullCharField, BlankAsNullChoiceField, SuccessField, TimeField

from . import models
from .redaction import redact_steps


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        "description": 'Steps in order, e.g. {"type": "template", "template": "Video about {{input}}"} or '
        '{"type": "python", "callable": "echo"}; checked by workflows.steps.validate_steps.',
    }
)
class StepsField(serializers.JSONField):
    pass


class WorkflowInput(serializers.Serializer):
    workflow_id = IdField()
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    steps = StepsField()
    tags = TagsField(help_text="Words to find the workflow's runs without a job by (GET /api/runs?tag=...).")
    metadata = MetadataField(help_text="The app's own data about the workflow, shown as given.")


class RunInput(serializers.Serializer):
    input = StrictCharField(required=False, allow_blank=True, default="", trim_whitespace=False)

    def validate_input(self, value: str) -> str:
        return validate_input_size(value)


def validate_input_size(value: str) -> str:
    size = len(value.encode())
    limit = settings.CRON_MAX_INPUT_BYTES
    if size > limit:
        raise serializers.ValidationError(f"is {size} bytes; the limit is {limit} bytes (64 KiB).")
    return value


# --- responses: each renders what it documents (vingine.output.success) ---------------------------

RUN_STATUSES = models.Run.Status.values  # one enum, RunStatus, in the schema (ENUM_NAME_OVERRIDES)


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
class RedactedStepsField(serializers.Field):
    """A workflow's steps as shown: secret header values stay stored for the steps to send, and are
    never shown back."""

    def to_representation(self, steps: list[dict]) -> list[dict]:
        return redact_steps(steps)


class Workflow(serializers.Serializer):
    workflow_id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    user_id = serializers.CharField(source="owner.username")
    steps = RedactedStepsField()
    tags = serializers.ListField(
        child=serializers.CharField(), help_text="As given, duplicates dropped; its runs without a job carry them."
    )
    metadata = serializers.DictField(help_text="As given.")
    created_at = TimeField()
    updated_at = TimeField()


class WorkflowSaved(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    workflow = Workflow()


class WorkflowOne(serializers.Serializer):
    status = SuccessField()
    workflow = Workflow()


class WorkflowList(serializers.Serializer):
    status = SuccessField()
    total_workflows = serializers.IntegerField(help_text="All of the caller's workflows, not only this page.")
    workflows = Workflow(many=True)


class WorkflowDeleted(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    workflow_id = serializers.CharField()


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
class StepLogField(serializers.JSONField):
    pass


class Run(serializers.Serializer):
    run_id = serializers.UUIDField(source="id")
    job_id = serializers.CharField(
        source="job.job_id", allow_null=True, help_text="null for a run started from the workflow itself."
    )
    workflow_id = serializers.CharField(source="workflow.workflow_id")
    user_id = serializers.CharField(source="owner.username")
    trigger = serializers.ChoiceField(choices=models.Run.Trigger.values)
    scheduled_for = TimeField(allow_null=True, help_text="The slot of a scheduled run.")
    status = serializers.ChoiceField(choices=models.Run.Status.values)
    created_at = TimeField()
    started_at = TimeField(allow_null=True)
    finished_at = TimeField(allow_null=True)
    input_text = serializers.CharField(allow_blank=True)
    output = serializers.JSONField(allow_null=True, help_text="The last step's output (any JSON value).")
    output_truncated = serializers.BooleanField(
        help_text="True when the output or a step's output was cut to the size a run may keep (256 KiB)."
    )
    steps = StepLogField(help_text="One record per step that ran.")
    error = BlankAsNullCharField()
    reason = BlankAsNullChoiceField(choices=models.Run.Reason.values, help_text="Why a run was skipped or failed.")
    wait_reason = BlankAsNullChoiceField(
        choices=models.Run.WaitReason.values,
        help_text="Why a queued run has not started yet. concurrency_limit: as many of this user's runs as "
        "their limit allows (RUN_MAX_CONCURRENT_PER_USER, or their own) are queued for a worker or running; "
        "it starts as one of them ends. backfill: a backfill run waiting for the job's earlier backfill runs "
        "(oldest slot first). null: it is on its way to a worker.",
    )
    cancelled_at = TimeField(allow_null=True, help_text="When someone asked to cancel the run.")
    cancelled_by = serializers.CharField(
        source="cancelled_by.username", allow_null=True, help_text="Who asked to cancel the run."
    )
    rerun_of = serializers.UUIDField(
        source="rerun_of_id", allow_null=True, help_text="The run this one repeats (trigger rerun)."
    )
    tags = serializers.ListField(
        child=serializers.CharField(),
        help_text="Its job's tags when it was recorded (its workflow's, for a run without a job).",
    )


class RunOne(serializers.Serializer):
    status = SuccessField()
    run = Run()


class RunCancelled(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    run = Run(
        help_text="As it is now: cancelled if it was queued; a running run is still running until "
        "its worker stops it, within about a second (poll GET /api/runs/{run_id})."
    )


class RunsCancelled(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    job_id = serializers.CharField()
    cancelled = serializers.IntegerField(help_text="Queued runs now cancelled.")
    stopping = serializers.IntegerField(help_text="Running runs their workers are stopping (each ends cancelled).")


class JobRunList(serializers.Serializer):
    status = SuccessField()
    job_id = serializers.CharField()
    total_runs = serializers.IntegerField(
        help_text="All of the job's runs (those the filters let through, if any), not only this page."
    )
    runs = Run(many=True)


class RunList(serializers.Serializer):
    status = SuccessField()
    total_runs = serializers.IntegerField(
        help_text="All of the caller's runs (those the filters let through, if any), not only this page."
    )
    runs = Run(many=True)


class SigningSecretShown(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField(required=False)
    secret = serializers.CharField(
        help_text="whsec_ and base64: give it to a Standard Webhooks library to verify the requests your runs send."
    )
    created_at = TimeField(help_text="When this secret was made.")
    previous_expires_at = TimeField(
        allow_null=True,
        help_text="After a rotation, requests carry the previous secret's signature too until then; null otherwise.",
    )
