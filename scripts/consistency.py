"""The promises `make chaos` and `make load` check afterwards, read from the database (and, for
chaos, from what the webhook receiver got):

- a slot fires once: no slot has two runs, and no slot was delivered to the webhook twice;
- a run is never lost silently: every slot of the watched jobs in the window has a run that ran
  (succeeded or failed with a reason) or is recorded as skipped with a reason, and no run is still
  ``running`` or ``queued`` long after its time;
- every job has exactly one PeriodicTask and every job-firing PeriodicTask exactly one job.

Django must be set up by the caller (both scripts do it once, at start).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from cronjobs.models import CronJob
from cronjobs.periodic_tasks import FIRE_TASK
from workflows.models import Run

# A queued run older than this past its slot (or its creation, for a manual run) is stuck: the
# sweeper sends a run again well before that.
STUCK_QUEUED_AFTER = timedelta(seconds=90)
# A running run older than this is stuck: the runs here take milliseconds, and the reaper fails a
# run whose worker died within about half a minute.
STUCK_RUNNING_AFTER = timedelta(seconds=90)


@dataclass
class Invariants:
    duplicate_slots: int = 0  # slots with more than one run row
    stuck_running: int = 0
    stuck_queued: int = 0
    jobs_without_task: int = 0
    tasks_without_job: int = 0

    @property
    def ok(self) -> bool:
        return not any(vars(self).values())


@dataclass
class Slots:
    expected: int = 0
    ran: int = 0  # succeeded or failed, each with its reason
    failed: Counter = field(default_factory=Counter)  # reason -> count, among ran
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    pending: int = 0  # queued or running, not yet stuck
    missing: int = 0  # no run row at all: a silent loss
    delivered_twice: int = 0  # slots the webhook receiver got more than once
    ran_undelivered: int = 0  # succeeded runs the receiver never got: a silent loss

    @property
    def lost(self) -> int:
        return self.missing + self.ran_undelivered


def invariants(*, now: datetime | None = None) -> Invariants:
    now = now or timezone.now()
    scheduled = Run.objects.filter(trigger=Run.Trigger.SCHEDULE, scheduled_for__isnull=False)
    duplicates = scheduled.values("job_id", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1).count()
    stuck_running = Run.objects.filter(status=Run.Status.RUNNING, started_at__lt=now - STUCK_RUNNING_AFTER).count()
    late = now - STUCK_QUEUED_AFTER
    stuck_queued = Run.objects.filter(
        Q(scheduled_for__lt=late) | Q(scheduled_for__isnull=True, created_at__lt=late), status=Run.Status.QUEUED
    ).count()
    job_tasks = PeriodicTask.objects.filter(task=FIRE_TASK)
    return Invariants(
        duplicate_slots=duplicates,
        stuck_running=stuck_running,
        stuck_queued=stuck_queued,
        # periodic_task is a non-null one-to-one: a job without its row cannot be written, but a
        # row can outlive its job.
        jobs_without_task=CronJob.objects.filter(periodic_task__isnull=True).count(),
        tasks_without_job=job_tasks.filter(cronjob__isnull=True).count(),
    )


def slots(
    *, job_ids: list[str], since: datetime, until: datetime, deliveries: Counter, now: datetime | None = None
) -> Slots:
    """Account for every slot in [since, until] of jobs that nothing changed meanwhile.

    ``deliveries`` counts the webhook requests per (job_id, slot ISO string), as the receiver
    recorded them from the run headers.
    """
    now = now or timezone.now()
    report = Slots()
    jobs = CronJob.objects.filter(job_id__in=job_ids)
    runs = {
        (job_id, slot): (status, reason)
        for job_id, slot, status, reason in Run.objects.filter(
            job__in=jobs, trigger=Run.Trigger.SCHEDULE, scheduled_for__gte=since, scheduled_for__lte=until
        ).values_list("job__job_id", "scheduled_for", "status", "reason")
    }
    for job in jobs:
        for slot in job.fire_times(since - timedelta(microseconds=1)):
            if slot > until:
                break
            report.expected += 1
            key = (job.job_id, slot.astimezone(UTC))
            delivered = deliveries.get((job.job_id, key[1].isoformat()), 0)
            if delivered > 1:
                report.delivered_twice += 1
            status, reason = runs.get(key, (None, None))
            if status is None:
                report.missing += 1
            elif status == Run.Status.SKIPPED:
                report.skipped[reason or "no reason"] += 1
            elif status in (Run.Status.SUCCEEDED, Run.Status.FAILED):
                report.ran += 1
                if status == Run.Status.FAILED:
                    report.failed[reason or "no reason"] += 1
                elif not delivered:
                    report.ran_undelivered += 1
            else:
                report.pending += 1
    return report
