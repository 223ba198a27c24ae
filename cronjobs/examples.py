"""The spec's examples (shared/spec/cron-job-api.md), shown in the OpenAPI docs of /api/cron."""

from drf_spectacular.utils import OpenApiExample

from .services import OWN_WORKFLOWS_ONLY

CRON_JOB = {
    "job_id": "daily-video-generation",
    "name": "Workflow video-automation-workflow for user user-uuid",
    "workflow_id": "video-automation-workflow",
    "user_id": "user-uuid",
    "input_text": "Generate video about tech news",
    "schedule_type": "cron",
    "schedule": "0 9 * * *",
    "next_run_time": "2025-12-22T09:00:00+00:00",
    "paused": False,
    "trigger": "cron[month='*', day='*', day_of_week='*', hour='9', minute='0']",
    "timezone": "UTC",
    "misfire_grace_seconds": 60,
    "overlap": "skip",
    "description": "At 09:00",
    "last_run_time": "2025-12-21T09:00:00.012000+00:00",
    "last_run_status": "succeeded",
    "tags": [],
    "metadata": {},
    "created_at": "2025-12-20T18:03:11.402000+00:00",
    "updated_at": "2025-12-20T18:03:11.402000+00:00",
}
INTERVAL_JOB = {
    **CRON_JOB,
    "job_id": "hourly-video-check",
    "input_text": "Check for trending topics",
    "schedule_type": "interval",
    "schedule": "1h 30m",
    "next_run_time": "2025-12-21T15:30:00+00:00",
    "trigger": "interval[1:30:00]",
    "description": "Every 1 hour 30 minutes",
    "last_run_time": None,
    "last_run_status": None,
}

CRON_REQUEST = OpenApiExample(
    "Every day at 9 AM",
    request_only=True,
    value={
        "job_id": "daily-video-generation",
        "workflow_id": "video-automation-workflow",
        "user_id": "user-uuid",
        "input": "Generate video about tech news",
        "cron_expression": "0 9 * * *",
    },
)
TAGGED_REQUEST = OpenApiExample(
    "With tags and metadata",
    request_only=True,
    value={
        "job_id": "daily-video-generation",
        "workflow_id": "video-automation-workflow",
        "input": "Generate video about tech news",
        "cron_expression": "0 9 * * *",
        "tags": ["video", "team:growth"],
        "metadata": {"campaign": "spring", "owner_email": "growth@example.com"},
    },
)
CRON_CREATED = OpenApiExample(
    "Created",
    response_only=True,
    value={"status": "success", "message": "Cron job daily-video-generation created successfully", "job": CRON_JOB},
)
INTERVAL_REQUEST = OpenApiExample(
    "Every 1 hour 30 minutes",
    request_only=True,
    value={
        "job_id": "hourly-video-check",
        "workflow_id": "video-automation-workflow",
        "user_id": "user-uuid",
        "input": "Check for trending topics",
        "hours": 1,
        "minutes": 30,
        "seconds": 0,
    },
)
INTERVAL_CREATED = OpenApiExample(
    "Created",
    response_only=True,
    value={"status": "success", "message": "Interval job hourly-video-check created successfully", "job": INTERVAL_JOB},
)
JOB_LIST = OpenApiExample(
    "Two jobs",
    response_only=True,
    value={"status": "success", "user_id": "user-uuid", "total_jobs": 2, "jobs": [CRON_JOB, INTERVAL_JOB]},
)
JOB_ONE = OpenApiExample("A cron job", response_only=True, value={"status": "success", "job": CRON_JOB})
JOB_HISTORY = OpenApiExample(
    "A job's history",
    response_only=True,
    value={
        "status": "success",
        "job_id": "daily-video-generation",
        "total_events": 3,
        "events": [
            {
                "action": "paused_after_failures",
                "at": "2025-12-23T09:00:04.118000+00:00",
                "actor": None,
                "via": "system",
                "changes": {
                    "paused": [False, True],
                    "pause_reason": "Paused after 3 consecutive failed runs; the last, run "
                    "0b7e4a52-4f0e-4d7a-9a53-3f6f0c2d9e11, failed: steps[0] (http): 500",
                    "consecutive_failures": 3,
                    "last_run_id": "0b7e4a52-4f0e-4d7a-9a53-3f6f0c2d9e11",
                },
            },
            {
                "action": "replaced",
                "at": "2025-12-21T10:12:40.551000+00:00",
                "actor": "user-uuid",
                "via": "api",
                "changes": {"cron_expression": ["0 8 * * *", "0 9 * * *"], "pause_after_failures": [0, 3]},
            },
            {
                "action": "created",
                "at": "2025-12-20T18:03:11.402000+00:00",
                "actor": "user-uuid",
                "via": "api",
                "changes": {
                    "workflow_id": "video-automation-workflow",
                    "input_text": "Generate video about tech news",
                    "schedule_type": "cron",
                    "cron_expression": "0 8 * * *",
                    "interval_seconds": None,
                    "timezone": "UTC",
                    "misfire_grace_seconds": 60,
                    "overlap": "skip",
                    "pause_after_failures": 0,
                    "paused": False,
                },
            },
        ],
    },
)

CREATE_ERRORS = {
    400: [
        (
            "Bad cron expression",
            "Invalid cron expression: 0 9. Expected 5 parts (minute hour day month day_of_week)",
        ),
        ("Interval too short", "Interval is 5 seconds; the shortest allowed is 10 seconds"),
        ("Unknown zone", "Unknown timezone 'Mars/Base'; use an IANA name such as 'UTC' or 'Europe/Paris'"),
        ("Too many tags", "tags: 11 tags given; at most 10 are allowed"),
        ("Metadata too big", "metadata: is 5008 bytes as JSON; the limit is 4096 bytes"),
    ],
    403: [("Someone else's workflow", OWN_WORKFLOWS_ONLY)],
    404: [("No such workflow", "Workflow video-automation-workflow not found")],
    409: [
        (
            "Taken by a periodic task",
            "job_id 'daily-video-generation' is taken by an operator's periodic task; choose another job_id",
        )
    ],
}

PREVIEW_REQUEST = OpenApiExample(
    "Weekdays at 9 in Paris",
    request_only=True,
    value={"cron_expression": "0 9 * * 1-5", "timezone": "Europe/Paris", "count": 3},
)
PREVIEW_INTERVAL_REQUEST = OpenApiExample(
    "Every 1 hour 30 minutes", request_only=True, value={"interval": {"hours": 1, "minutes": 30}, "count": 3}
)
PREVIEW = OpenApiExample(
    "Weekdays at 9 in Paris",
    response_only=True,
    value={
        "status": "success",
        "timezone": "Europe/Paris",
        "next_run_times": ["2025-12-22T09:00:00+01:00", "2025-12-23T09:00:00+01:00", "2025-12-24T09:00:00+01:00"],
        "description": "At 09:00, Monday through Friday",
    },
)
PREVIEW_ERRORS = {
    400: [
        (
            "Bad cron expression",
            "Invalid cron expression: 0 9. Expected 5 parts (minute hour day month day_of_week)",
        ),
        ("Both or neither", "body: give exactly one of cron_expression or interval"),
    ]
}


def done(verb: str) -> OpenApiExample:
    past = {"delete": "deleted", "trigger": "triggered", "pause": "paused", "resume": "resumed"}[verb]
    value = {
        "status": "success",
        "message": f"Job daily-video-generation {past} successfully",
        "job_id": "daily-video-generation",
    }
    if verb == "trigger":
        value["run_id"] = "6f1c1f9e-3c2a-4d0e-9a51-2f7c0d1b8e11"
    return OpenApiExample("Done", response_only=True, value=value)


def job_errors(verb: str) -> dict:
    return {
        403: [("Someone else's job", f"You don't have permission to {verb} this job")],
        404: [("No such job", "Job daily-video-generation not found")],
        503: [
            (
                "Queue down",
                "The task queue is unreachable; the run was recorded as failed. Try again shortly.",
            )
        ],
    }
