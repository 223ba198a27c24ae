from rest_framework import serializers

from audit.models import AuditEvent
from cronjobs.models import CronJob, Notification
from vingine.fields import IdField, MetadataField, StrictCharField, StrictIntegerField, TagsField
from vingine.output import BlankAsNullCharField, SuccessField, TimeField, ZonedTimeField
from workflows.models import Run
from workflows.serializers import validate_input_size

NOTIFICATION_EVENTS = Notification.Event.values  # one enum, NotificationEvent, in the schema (ENUM_NAME_OVERRIDES)


class NotifyInput(serializers.Serializer):
    url = StrictCharField(
        required=False, allow_null=True, max_length=2048, help_text="Gets a signed POST, as http steps' requests."
    )
    email = StrictCharField(required=False, allow_null=True, max_length=254)
    on = serializers.ListField(
        child=serializers.ChoiceField(choices=NOTIFICATION_EVENTS),
        required=False,
        min_length=1,
        help_text="Which transitions to tell of; default both.",
    )
    after_consecutive_failures = StrictIntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=1000,
        help_text="The job counts as failing after this many failed runs in a row.",
    )


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
    pause_after_failures = StrictIntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=CronJob.MAX_PAUSE_AFTER_FAILURES,
        help_text="Pause the job after this many consecutive failed runs (0: never).",
    )
    tags = TagsField(help_text="Words to find the job and its runs by (GET /api/cron/jobs?tag=...).")
    metadata = MetadataField(help_text="The app's own data about the job, shown as given.")
    notify = NotifyInput(
        required=False,
        allow_null=True,
        default=None,
        help_text="Who hears when the job starts failing and when it recovers: one notification per transition.",
    )

    def validate_input(self, value: str) -> str:
        return validate_input_size(value)


class CronJobInput(JobInput):
    cron_expression = StrictCharField(max_length=200)


class IntervalInput(serializers.Serializer):
    hours = StrictIntegerField(required=False, default=0, min_value=0)
    minutes = StrictIntegerField(required=False, default=0, min_value=0)
    seconds = StrictIntegerField(required=False, default=0, min_value=0)


class IntervalJobInput(JobInput, IntervalInput):
    pass


class BackfillInput(serializers.Serializer):
    start = serializers.DateTimeField(help_text="ISO time with its offset; slots from here (included).")
    end = serializers.DateTimeField(
        help_text="ISO time with its offset, not in the future; slots up to here (included)."
    )

    def validate(self, attrs):
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError("start must not be after end")
        return attrs


class PreviewInput(serializers.Serializer):
    cron_expression = StrictCharField(required=False, max_length=200, help_text="Give this or interval.")
    interval = IntervalInput(required=False, help_text="Give this or cron_expression.")
    timezone = StrictCharField(required=False, default="UTC", max_length=64)
    count = StrictIntegerField(required=False, default=5, min_value=1, max_value=20)

    def validate(self, attrs):
        if ("cron_expression" in attrs) == ("interval" in attrs):
            raise serializers.ValidationError("give exactly one of cron_expression or interval")
        return attrs


# --- responses: each renders what it documents (vingine.output.success) ---------------------------


class Job(serializers.Serializer):
    job_id = serializers.CharField()
    name = serializers.CharField(help_text="Workflow W for user U")
    workflow_id = serializers.CharField(source="workflow.workflow_id")
    user_id = serializers.CharField(source="owner.username")
    input_text = serializers.CharField(allow_blank=True)
    schedule_type = serializers.ChoiceField(choices=CronJob.ScheduleType.values)
    schedule = serializers.CharField(help_text='"0 9 * * *" or "1h 30m"')
    next_run_time = ZonedTimeField(allow_null=True, help_text="In the job's zone; null while paused.")
    paused = serializers.BooleanField()
    trigger = serializers.CharField(help_text="cron[...] or interval[1:30:00]")
    timezone = serializers.CharField(help_text="IANA zone the schedule is evaluated in.")
    misfire_grace_seconds = serializers.IntegerField(
        help_text="A slot found due later than this is recorded as skipped (reason missed) instead of run late."
    )
    overlap = serializers.ChoiceField(
        choices=CronJob.Overlap.values,
        help_text="skip: a slot due while the previous run is unfinished is skipped.",
    )
    pause_after_failures = serializers.IntegerField(
        help_text="The job pauses itself after this many consecutive failed runs (0: never)."
    )
    pause_reason = BlankAsNullCharField(
        help_text="Why the job paused itself (after consecutive failures); null when paused by a person, or running."
    )
    paused_at = ZonedTimeField(allow_null=True, help_text="When the job was paused; null while it runs.")
    notify = serializers.JSONField(
        allow_null=True, help_text="{url, email, on, after_consecutive_failures}, as given; null: nobody is notified."
    )
    failing = serializers.BooleanField(
        help_text="Whether the job's failure was notified and no run has succeeded since (only with notify)."
    )
    description = serializers.CharField(help_text='"At 09:00, Monday through Friday", "Every 1 hour 30 minutes"')
    last_run_time = ZonedTimeField(
        source="last_run_at",
        allow_null=True,
        help_text="When the newest run started (or was recorded, if it never started).",
    )
    last_run_status = serializers.ChoiceField(choices=Run.Status.values, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(), help_text="As given, duplicates dropped; the job's runs carry them too."
    )
    metadata = serializers.DictField(help_text="As given.")
    created_at = TimeField()
    updated_at = TimeField()

    def to_representation(self, job: CronJob) -> dict:
        job.last_run()  # loads last_run_at and last_run_status when a list has not annotated them
        return super().to_representation(job)


class JobSaved(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    job = Job()


class JobOne(serializers.Serializer):
    status = SuccessField()
    job = Job()


class JobList(serializers.Serializer):
    status = SuccessField()
    user_id = serializers.CharField()
    total_jobs = serializers.IntegerField(
        help_text="All of the caller's jobs (with the tags asked for, if any), not only this page."
    )
    jobs = Job(many=True)


class AllJobList(serializers.Serializer):
    status = SuccessField()
    total_jobs = serializers.IntegerField(help_text="Every job (with the tags asked for, if any), not only this page.")
    jobs = Job(many=True)


class JobDone(serializers.Serializer):
    status = SuccessField()
    message = serializers.CharField()
    job_id = serializers.CharField()


class JobTriggered(JobDone):
    run_id = serializers.UUIDField(help_text="The run just queued: GET /api/runs/{run_id}.")


class JobBackfilled(JobDone):
    runs_created = serializers.IntegerField(help_text="Runs recorded, one per slot that had none.")
    slots_already_run = serializers.IntegerField(help_text="Slots in the range that already had a run.")
    run_ids = serializers.ListField(child=serializers.UUIDField(), help_text="The runs recorded, oldest slot first.")


class JobEvent(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditEvent.Action.values)
    at = TimeField()
    actor = BlankAsNullCharField(
        source="actor_name", help_text="The username of who made the change; null when the system made it."
    )
    via = serializers.ChoiceField(choices=AuditEvent.Via.values, help_text="api, admin, or system (no actor).")
    changes = serializers.DictField(
        help_text="replaced: {field: [before, after]} for each field that changed; created and deleted: the "
        "job's settings; triggered: run_id; backfilled: start, end, runs_created; runs_cancelled: cancelled, "
        "stopping; paused_after_failures: pause_reason, consecutive_failures, last_run_id."
    )


class JobHistory(serializers.Serializer):
    status = SuccessField()
    job_id = serializers.CharField()
    total_events = serializers.IntegerField(help_text="All of the job's recorded changes, not only this page.")
    events = JobEvent(many=True, help_text="Newest first.")


class Preview(serializers.Serializer):
    status = SuccessField()
    timezone = serializers.CharField()
    next_run_times = serializers.ListField(child=TimeField(), help_text="In the given zone.")
    description = serializers.CharField()


class NotificationShown(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.ChoiceField(choices=NOTIFICATION_EVENTS)
    channel = serializers.ChoiceField(choices=Notification.Channel.values)
    target = serializers.CharField(help_text="The URL or e-mail address.")
    status = serializers.ChoiceField(choices=Notification.Status.values, help_text="failed: every try failed.")
    attempts = serializers.IntegerField()
    last_error = BlankAsNullCharField()
    run_id = serializers.UUIDField(allow_null=True)
    body = serializers.JSONField(help_text="What was sent (an e-mail says the same in words).")
    created_at = TimeField()
    sent_at = TimeField(allow_null=True)


class JobNotificationList(serializers.Serializer):
    status = SuccessField()
    job_id = serializers.CharField()
    notifications = NotificationShown(many=True, help_text="Newest first, at most 50.")
