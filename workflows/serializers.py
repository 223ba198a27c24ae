from django.conf import settings
from rest_framework import serializers

from vingine.fields import IdField, StrictCharField


class WorkflowInput(serializers.Serializer):
    workflow_id = IdField()
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    steps = serializers.JSONField()


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
