from rest_framework import serializers

from vingine.fields import StrictCharField
from vingine.output import SuccessField, TimeField


class StreamTokenInput(serializers.Serializer):
    job_id = StrictCharField(
        required=False, max_length=200, help_text="Only this job's runs (one of yours; staff: anyone's)."
    )
    run_id = serializers.UUIDField(required=False, help_text="Only this run's events.")

    def validate(self, data: dict) -> dict:
        if "job_id" in data and "run_id" in data:
            raise serializers.ValidationError("Give job_id or run_id, not both.")
        return data


class StreamTokenIssued(serializers.Serializer):
    status = SuccessField()
    token = serializers.CharField(help_text="Opens a stream within expires_at; an open stream stays open.")
    url = serializers.CharField(
        help_text="The stream, token included: new EventSource(url). Events run.created, run.started, run.step "
        "and run.ended carry {type, run, step?}; reconnects send Last-Event-ID and get what they missed."
    )
    expires_at = TimeField()
    job_id = serializers.CharField(allow_null=True)
    run_id = serializers.CharField(allow_null=True)
