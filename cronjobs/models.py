import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django_celery_beat.models import PeriodicTask

from vingine.tags import MAX_TAG_LENGTH
from workflows.models import Workflow

from . import schedules


class CronJob(models.Model):
    """A user's schedule for one workflow.

    Its ``periodic_task`` is the django-celery-beat row operators see (and the stock scheduler
    reads, when chosen for comparison); services write both in one transaction (``periodic_tasks``),
    so the two never disagree. Our beat fires by ``next_fire_at``.
    """

    ScheduleType = schedules.ScheduleType

    class Overlap(models.TextChoices):
        SKIP = "skip"  # a slot due while the previous run is queued or running is recorded as skipped
        ALLOW = "allow"  # runs may overlap

    MAX_MISFIRE_GRACE_SECONDS = 24 * 3600
    MAX_PAUSE_AFTER_FAILURES = 1000

    job_id = models.CharField(max_length=200, unique=True)  # one global namespace
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cronjobs")
    # RESTRICT: a workflow in use cannot be deleted on its own, but deleting its owner (which
    # deletes both the workflow and the jobs) goes through.
    workflow = models.ForeignKey(Workflow, on_delete=models.RESTRICT, related_name="cronjobs")
    input_text = models.TextField(blank=True)
    schedule_type = models.CharField(max_length=16, choices=ScheduleType.choices)
    cron_expression = models.CharField(max_length=200, blank=True)
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    paused = models.BooleanField(default=False)
    # Interval slots are anchor + k * interval; the anchor moves when the schedule is replaced.
    anchor = models.DateTimeField(default=dj_timezone.now)
    periodic_task = models.OneToOneField(PeriodicTask, on_delete=models.PROTECT, related_name="cronjob")
    # The next slot to fire, computed by fire_times(); null while paused. Our scheduler claims jobs
    # by this column (indexed), so it never holds the schedule in memory, and the API shows this
    # value as next_run_time (or prepared_for, below, while that slot is still to come).
    next_fire_at = models.DateTimeField(null=True, blank=True)
    # The slot a beat claimed ahead (cronjobs.claims.LOOKAHEAD): its run is committed and is
    # published when the slot comes, and next_fire_at has already moved past it. Until then the API
    # shows this slot as next_run_time.
    prepared_for = models.DateTimeField(null=True, blank=True)
    # A slot found due later than this (beat or the database was down) is recorded as skipped
    # ("missed") instead of run late.
    misfire_grace_seconds = models.PositiveIntegerField(default=60)
    overlap = models.CharField(max_length=8, choices=Overlap.choices, default=Overlap.SKIP)
    # After this many consecutive failed runs the job pauses itself (0: never), saying why in
    # pause_reason; resuming or replacing the job clears it.
    pause_after_failures = models.PositiveIntegerField(default=0)
    pause_reason = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Shown as given (vingine.tags); the tags are also rows of JobTag, written with these, which
    # lists filter by on any database.
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Who hears when the job starts failing and when it recovers (cronjobs.notifications):
    # {"url", "email", "on": ["failure", "recovery"], "after_consecutive_failures"}; null: nobody.
    notify = models.JSONField(null=True, blank=True)
    # Whether the job is failing as far as notifications go: set when its failure notification is
    # made, cleared by its next success (one notification per transition, not per run).
    failing = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id"]
        indexes = [models.Index(fields=["next_fire_at"], name="cronjob_next_fire")]
        constraints = [
            models.CheckConstraint(
                name="cronjob_schedule_matches_type",
                condition=(
                    models.Q(schedule_type="cron", interval_seconds__isnull=True) & ~models.Q(cron_expression="")
                )
                | models.Q(schedule_type="interval", interval_seconds__gt=0, cron_expression=""),
            )
        ]

    def __str__(self) -> str:
        return self.job_id

    @property
    def name(self) -> str:
        return f"Workflow {self.workflow.workflow_id} for user {self.owner.username}"

    @property
    def schedule(self) -> str:
        if self.schedule_type == self.ScheduleType.CRON:
            return self.cron_expression
        return schedules.interval_display(self.interval_seconds)

    @property
    def trigger(self) -> str:
        if self.schedule_type == self.ScheduleType.CRON:
            return schedules.parse_cron(self.cron_expression).trigger
        return schedules.interval_trigger(self.interval_seconds)

    @property
    def description(self) -> str:
        if self.schedule_type == self.ScheduleType.CRON:
            return schedules.describe_cron(self.cron_expression)
        return schedules.describe_interval(self.interval_seconds)

    def last_run(self) -> tuple[datetime | None, str | None]:
        """(when, status) of the newest run: when it started, or was recorded if it never started.

        The API's reads (``selectors``) read it with the job (no query per job).
        """
        if not hasattr(self, "last_run_status"):
            newest = self.runs.order_by("-created_at").values("created_at", "started_at", "status").first() or {}
            self.last_run_at = newest.get("started_at") or newest.get("created_at")
            self.last_run_status = newest.get("status")
        return self.last_run_at, self.last_run_status

    def fire_times(self, after: datetime) -> Iterator[datetime]:
        """The slots of this job's schedule strictly after ``after``, oldest first, in its zone."""
        zone = schedules.parse_timezone(self.timezone)
        if self.schedule_type == self.ScheduleType.INTERVAL:
            slots = schedules.interval_times(self.anchor, self.interval_seconds, after)
            return (slot.astimezone(zone) for slot in slots)
        return schedules.cron_times(self.cron_expression, zone, after)

    def next_fire_after(self, after: datetime) -> datetime:
        return next(self.fire_times(after))

    def due_slots(self, now: datetime, limit: int) -> tuple[list[datetime], bool]:
        """The slots from ``next_fire_at`` up to ``now`` (inclusive), oldest first.

        At most ``limit`` of them, the newest: after a long outage an every-second job would
        otherwise have a day's worth of slots to walk and record. The flag says whether older
        slots were left out.
        """
        first = self.next_fire_at
        slots = [first, *itertools.islice(itertools.takewhile(lambda t: t <= now, self.fire_times(first)), limit)]
        if len(slots) <= limit:
            return slots, False
        # More than ``limit``: start again just before the newest ``limit`` slots.
        if self.schedule_type == self.ScheduleType.INTERVAL:
            seek = now - timedelta(seconds=self.interval_seconds) * limit
        else:
            zone = schedules.parse_timezone(self.timezone)
            seek = list(itertools.islice(schedules.cron_times_before(self.cron_expression, zone, now), limit))[-1]
            seek -= timedelta(microseconds=1)
        recent = list(itertools.takewhile(lambda t: t <= now, self.fire_times(max(seek, first))))
        return recent[-limit:], True

    def next_run_time(self) -> datetime | None:
        """When the job fires next: the slot a beat has claimed ahead while it is still to come, else
        the scheduler's own next_fire_at; None while paused."""
        if self.paused or self.next_fire_at is None:
            return None
        upcoming = self.next_fire_at
        if self.prepared_for is not None and self.prepared_for > dj_timezone.now():
            upcoming = self.prepared_for
        return upcoming

    def slot_at(self, now: datetime) -> datetime | None:
        """For the stock scheduler's fire_job only: the latest slot of the current schedule at or
        before ``now``; None before the first one.

        Interval slots are anchor + k * interval for k >= 1. A cron slot counts from the anchor on:
        a fire that maps to an earlier one was sent for a schedule that has since been replaced.
        """
        if self.schedule_type == self.ScheduleType.INTERVAL:
            every = timedelta(seconds=self.interval_seconds)
            slots = (now - self.anchor) // every
            return self.anchor + every * slots if slots >= 1 else None
        zone = schedules.parse_timezone(self.timezone)
        slot = next(schedules.cron_times_before(self.cron_expression, zone, now))
        return slot if slot >= self.anchor else None


class JobTag(models.Model):
    """One tag of a job, for finding jobs (and their runs) by tag; ``CronJob.tags`` is what is shown.

    Services write both in one transaction. A table rather than a lookup into the JSON list: it
    filters the same way on PostgreSQL and SQLite, through an index.
    """

    # Looked up through jobtag_job_tag, whose first column it is.
    job = models.ForeignKey(CronJob, on_delete=models.CASCADE, related_name="tag_rows", db_index=False)
    tag = models.CharField(max_length=MAX_TAG_LENGTH)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "tag"], name="jobtag_job_tag")]
        indexes = [models.Index(fields=["tag", "job"], name="jobtag_tag_job")]

    def __str__(self) -> str:
        return self.tag


class Notification(models.Model):
    """One message about a job's transition (failing, recovered) to one destination; delivered by
    a task that retries with backoff, never by the run itself."""

    class Event(models.TextChoices):
        FAILURE = "failure"
        RECOVERY = "recovery"

    class Channel(models.TextChoices):
        HTTP = "http"
        EMAIL = "email"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # every try failed

    job = models.ForeignKey(CronJob, on_delete=models.CASCADE, related_name="notifications")
    run = models.ForeignKey("workflows.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=16, choices=Event.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=2048)  # the URL or the e-mail address
    body = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "-created_at"], name="notification_job_newest")]

    def __str__(self) -> str:
        return f"{self.event} of {self.job_id} to {self.target}"
