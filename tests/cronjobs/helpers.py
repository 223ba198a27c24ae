"""Request bodies, database snapshots and independent schedule arithmetic for the /api/cron tests."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from audit.models import AuditEvent
from cronjobs.claims import claim_due_jobs
from cronjobs.models import CronJob, JobTag
from workflows.models import Run, WorkflowTag

# The request bodies of the spec's examples, sent by alice (whose user id is "alice-uuid").
CRON_BODY = {
    "job_id": "daily-video-generation",
    "workflow_id": "video-automation-workflow",
    "user_id": "alice-uuid",
    "input": "Generate video about tech news",
    "cron_expression": "0 9 * * *",
}
INTERVAL_BODY = {
    "job_id": "hourly-video-check",
    "workflow_id": "video-automation-workflow",
    "user_id": "alice-uuid",
    "input": "Check for trending topics",
    "hours": 1,
    "minutes": 30,
    "seconds": 0,
}

# The job object fields the spec shows; the API may add more, never fewer.
SPEC_JOB_FIELDS = (
    "job_id",
    "name",
    "workflow_id",
    "user_id",
    "input_text",
    "schedule_type",
    "schedule",
    "next_run_time",
    "paused",
    "trigger",
)


# The job objects of the spec's examples as the API answers for alice, next_run_time aside.
SPEC_CRON_JOB = {
    "job_id": "daily-video-generation",
    "name": "Workflow video-automation-workflow for user alice-uuid",
    "workflow_id": "video-automation-workflow",
    "user_id": "alice-uuid",
    "input_text": "Generate video about tech news",
    "schedule_type": "cron",
    "schedule": "0 9 * * *",
    "paused": False,
    "trigger": "cron[month='*', day='*', day_of_week='*', hour='9', minute='0']",
}
SPEC_INTERVAL_JOB = {
    "job_id": "hourly-video-check",
    "name": "Workflow video-automation-workflow for user alice-uuid",
    "workflow_id": "video-automation-workflow",
    "user_id": "alice-uuid",
    "input_text": "Check for trending topics",
    "schedule_type": "interval",
    "schedule": "1h 30m",
    "paused": False,
    "trigger": "interval[1:30:00]",
}


def post_cron(client, **fields):
    return client.post("/api/cron/jobs/cron", {**CRON_BODY, **fields}, format="json")


def post_interval(client, **fields):
    return client.post("/api/cron/jobs/interval", {**INTERVAL_BODY, **fields}, format="json")


def spec_fields(job: dict) -> dict:
    missing = set(SPEC_JOB_FIELDS) - set(job)
    assert not missing, f"job object lacks {missing}"
    return {name: job[name] for name in SPEC_JOB_FIELDS}


def db_snapshot() -> dict:
    """Everything a request to /api/cron could write, to prove that a refused one wrote nothing."""
    return {
        "jobs": list(CronJob.objects.order_by("pk").values()),
        "periodic_tasks": list(PeriodicTask.objects.order_by("pk").values()),
        "crontabs": list(CrontabSchedule.objects.order_by("pk").values_list("pk", flat=True)),
        "intervals": list(IntervalSchedule.objects.order_by("pk").values_list("pk", flat=True)),
        "runs": list(Run.objects.order_by("pk").values()),
        "job_tags": list(JobTag.objects.order_by("pk").values()),
        "workflow_tags": list(WorkflowTag.objects.order_by("pk").values()),
        "audit_events": list(AuditEvent.objects.order_by("pk").values()),
        "beat_last_change": PeriodicTasks.last_change(),
    }


def assert_refused(response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    if detail is not None:
        assert body["detail"] == detail


def cron_next(expression: str, zone: str, after: datetime) -> datetime:
    """The first slot after ``after``, computed by cronsim in the job's own time zone."""
    return next(CronSim(expression, after.astimezone(ZoneInfo(zone))))


def assert_cron_next_run(next_run_time: str, expression: str, zone: str, before: datetime, after: datetime) -> None:
    """``next_run_time`` is the slot cronsim finds after the request (which ran between before and after)."""
    got = datetime.fromisoformat(next_run_time)
    assert got.utcoffset() is not None, f"{next_run_time} has no UTC offset"
    # A slot can pass while the request runs, so either side of the request is a right answer.
    expected = {cron_next(expression, zone, before), cron_next(expression, zone, after)}
    assert got in expected, (next_run_time, sorted(e.isoformat() for e in expected))
    # The offset shown is the one in force in the job's zone at that instant.
    assert got.utcoffset() == got.astimezone(ZoneInfo(zone)).utcoffset()


def ceil_second(moment: datetime) -> datetime:
    return moment if not moment.microsecond else moment.replace(microsecond=0) + timedelta(seconds=1)


def assert_interval_next_run(next_run_time: str, every: timedelta, before: datetime, after: datetime) -> None:
    """The first run is one interval after the job was created (created within [before, after])."""
    got = datetime.fromisoformat(next_run_time)
    assert got.utcoffset() is not None, f"{next_run_time} has no UTC offset"
    # Slots are whole seconds: the creation instant is rounded up to the next one.
    assert before + every <= got <= ceil_second(after) + every


def fire_due_jobs(now: datetime) -> tuple[int, list]:
    """One claim without look-ahead: how many jobs were claimed and the ids of the runs to publish now."""
    claimed, runs = claim_due_jobs(now)
    return claimed, [run_id for _, run_id in runs]
