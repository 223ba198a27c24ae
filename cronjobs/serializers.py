from rest_framework import serializers

from cronjobs.models import CronJob
from vingine.fields import IdField, StrictCharField, StrictIntegerField
from workflows.serializers import validate_input_size


class JobInput(serializers.Serializer):
    job_id = IdField()
    workflow_id = IdField()
    user_id = StrictCharField(required=False, max_length=150)
    input = StrictCharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    timezone = StrictCharField(required=False, default="UTC", max_length=64)
    misfire_grace_seconds = StrictIntegerField(
        required=False, default=60, min_value=1, max_value=CronJob.MAX_MISFIRE_GRACE_SECONDS
    )
    overlap = serializers.ChoiceField(
        choices=CronJob.Overlap.values,
        required=False,
        default=CronJob.Overlap.SKIP,
        error_messages={"invalid_choice": "overlap must be 'skip' or 'allow', not '{input}'"},
    )

    def validate_input(self, value: str) -> str:
        return validate_input_size(value)


class CronJobInput(JobInput):
    cron_expression = StrictCharField(max_length=200)


class IntervalJobInput(JobInput):
    hours = StrictIntegerField(required=False, default=0, min_value=0)
    minutes = StrictIntegerField(required=False, default=0, min_value=0)
    seconds = StrictIntegerField(required=False, default=0, min_value=0)
