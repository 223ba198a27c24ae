from datetime import datetime, timedelta

from cronsim import CronSim
from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django_celery_beat.models import PeriodicTask

from workflows.models import Workflow

from . import schedules


class CronJob(models.Model):
    """A user's schedule for one workflow.

    Its ``periodic_task`` is the django-celery-beat row beat reads; services write both in one
    transaction, so the two never disagree.
    """

    class ScheduleType(models.TextChoices):
        CRON = "cron"
        INTERVAL = "interval"

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id"]
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

        Lists read it from the annotations of ``selectors.with_last_run`` (no query per job).
        """
        if not hasattr(self, "last_run_status"):
            newest = self.runs.order_by("-created_at").values("created_at", "started_at", "status").first() or {}
            self.last_run_at = newest.get("started_at") or newest.get("created_at")
            self.last_run_status = newest.get("status")
        return self.last_run_at, self.last_run_status

    def next_run_time(self, now: datetime | None = None) -> datetime | None:
        """When beat will fire this job next, from the same celery schedule object beat evaluates."""
        if self.paused:
            return None
        now = now or dj_timezone.now()
        task = self.periodic_task
        beat_schedule = task.schedule
        zone = schedules.parse_timezone(self.timezone)
        if self.schedule_type == self.ScheduleType.CRON:
            start = now.astimezone(beat_schedule.tz).replace(microsecond=0)
            last, delta, _ = beat_schedule.remaining_delta(start, tz=beat_schedule.tz)
            return (last + delta).astimezone(zone)
        # Beat fires an interval job when last_run_at + run_every has passed.
        every: timedelta = beat_schedule.run_every
        last = task.last_run_at or self.anchor
        if last + every <= now:
            last += every * ((now - last) // every)
        return (last + every).astimezone(zone)

    def slot_at(self, now: datetime) -> datetime | None:
        """The latest slot of the current schedule at or before ``now``; None before the first one.

        Interval slots are anchor + k * interval for k >= 1. A cron slot counts from the anchor on:
        a fire that maps to an earlier one was sent for a schedule that has since been replaced.
        """
        if self.schedule_type == self.ScheduleType.INTERVAL:
            every = timedelta(seconds=self.interval_seconds)
            slots = (now - self.anchor) // every
            return self.anchor + every * slots if slots >= 1 else None
        zone = schedules.parse_timezone(self.timezone)
        expression = " ".join(schedules.parse_cron(self.cron_expression).fields)
        # Evaluated in the job's own zone (DST), with microseconds set so the current second counts.
        slot = next(CronSim(expression, now.astimezone(zone).replace(microsecond=1), reverse=True))
        return slot if slot >= self.anchor else None

    def to_dict(self, now: datetime | None = None) -> dict:
        next_run = self.next_run_time(now)
        last_run_at, last_run_status = self.last_run()
        zone = schedules.parse_timezone(self.timezone)
        return {
            "job_id": self.job_id,
            "name": self.name,
            "workflow_id": self.workflow.workflow_id,
            "user_id": self.owner.username,
            "input_text": self.input_text,
            "schedule_type": self.schedule_type,
            "schedule": self.schedule,
            "next_run_time": next_run.isoformat() if next_run else None,
            "paused": self.paused,
            "trigger": self.trigger,
            "timezone": self.timezone,
            "description": self.description,
            "last_run_time": last_run_at.astimezone(zone).isoformat() if last_run_at else None,
            "last_run_status": last_run_status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
