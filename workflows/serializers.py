from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vingine.fields import IdField, StrictCharField


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        "description": 'Steps in order, e.g. {"type": "template", "template": "Video about {{input}}"} or '
        '{"type": "python", "callable": "echo"}; checked by workflows.runner.validate_steps.',
    }
)
class StepsField(serializers.JSONField):
    pass


class WorkflowInput(serializers.Serializer):
    workflow_id = IdField()
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    steps = StepsField()


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


# --- responses: the schema of what the views send (tests/cronjobs/test_openapi.py holds them to it) ---

RUN_STATUSES = ["queued", "running", "succeeded", "failed", "skipped"]


class Workflow(serializers.Serializer):
    workflow_id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    user_id = serializers.CharField()
    steps = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WorkflowSaved(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    message = serializers.CharField()
    workflow = Workflow()


class WorkflowOne(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    workflow = Workflow()


class WorkflowList(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    total_workflows = serializers.IntegerField(help_text="All of the caller's workflows, not only this page.")
    workflows = Workflow(many=True)


class WorkflowDeleted(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    message = serializers.CharField()
    workflow_id = serializers.CharField()


class Run(serializers.Serializer):
    run_id = serializers.UUIDField()
    job_id = serializers.CharField(allow_null=True, help_text="null for a run started from the workflow itself.")
    workflow_id = serializers.CharField()
    user_id = serializers.CharField()
    trigger = serializers.ChoiceField(choices=["schedule", "manual"])
    scheduled_for = serializers.DateTimeField(allow_null=True, help_text="The slot of a scheduled run.")
    status = serializers.ChoiceField(choices=RUN_STATUSES)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    input_text = serializers.CharField(allow_blank=True)
    output = serializers.JSONField(allow_null=True, help_text="The last step's output (any JSON value).")
    output_truncated = serializers.BooleanField(
        help_text="True when the output or a step's output was cut to the size a run may keep (256 KiB)."
    )
    steps = serializers.ListField(child=serializers.DictField(), help_text="One record per step that ran.")
    error = serializers.CharField(allow_null=True)
    reason = serializers.ChoiceField(
        choices=["missed", "overlap", "error", "timeout", "lost"],
        allow_null=True,
        help_text="Why a run was skipped or failed.",
    )


class RunOne(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    run = Run()


class JobRunList(serializers.Serializer):
    status = serializers.ChoiceField(choices=["success"])
    job_id = serializers.CharField()
    total_runs = serializers.IntegerField(help_text="All of the job's runs, not only this page.")
    runs = Run(many=True)
