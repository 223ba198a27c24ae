"""Every change to a job or a workflow is recorded: who made it, when, through what, and what changed;
the owner reads a job's history at GET /api/cron/jobs/{job_id}/history, operators in the admin."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from cronjobs import services
from cronjobs.models import CronJob
from tests.conftest import ECHO_STEPS
from workflows import services as workflow_services
from workflows.models import Run
from workflows.runs import run_enqueue

from .helpers import CRON_BODY, assert_refused, db_snapshot, post_cron

pytestmark = pytest.mark.django_db

JOB = CRON_BODY["job_id"]
HISTORY = f"/api/cron/jobs/{JOB}/history"
CREATED_SETTINGS = {
    "workflow_id": "video-automation-workflow",
    "input_text": "Generate video about tech news",
    "schedule_type": "cron",
    "cron_expression": "0 9 * * *",
    "interval_seconds": None,
    "timezone": "UTC",
    "misfire_grace_seconds": 60,
    "overlap": "skip",
    "pause_after_failures": 0,
    "notify": None,
    "tags": [],
    "metadata": {},
    "paused": False,
}


def events(object_id: str = JOB, kind: str = AuditEvent.Kind.JOB) -> list[AuditEvent]:
    """The object's events, oldest first."""
    return list(AuditEvent.objects.filter(kind=kind, object_id=object_id).order_by("at", "pk"))


def newest(object_id: str = JOB, kind: str = AuditEvent.Kind.JOB) -> AuditEvent:
    return events(object_id, kind)[-1]


def test_creating_a_job_records_who_when_and_its_settings(api, workflow, alice):
    before = timezone.now()
    assert post_cron(api).status_code == 200

    [event] = events()
    assert (event.action, event.actor, event.actor_name, event.via, event.owner) == (
        "created",
        alice,
        "alice-uuid",
        "api",
        alice,
    )
    assert before <= event.at <= timezone.now()
    assert event.changes == CREATED_SETTINGS


def test_replacing_a_job_records_each_changed_field_before_and_after(api, cron_job):
    response = post_cron(api, cron_expression="30 8 * * 1-5", input="Other input", timezone="Europe/Paris")
    assert response.status_code == 200

    event = newest()
    assert (event.action, event.actor_name, event.via) == ("replaced", "alice-uuid", "api")
    assert event.changes == {
        "cron_expression": ["0 9 * * *", "30 8 * * 1-5"],
        "input_text": ["Generate video about tech news", "Other input"],
        "timezone": ["UTC", "Europe/Paris"],
    }


def test_replacing_a_paused_job_records_that_it_runs_again(api, cron_job):
    api.post(f"/api/cron/jobs/{JOB}/pause")

    post_cron(api)

    assert newest().changes == {"paused": [True, False]}


def test_pausing_and_resuming_are_recorded_once_each(api, cron_job):
    assert api.post(f"/api/cron/jobs/{JOB}/pause").status_code == 200
    assert api.post(f"/api/cron/jobs/{JOB}/pause").status_code == 200  # already paused: nothing changes
    assert api.post(f"/api/cron/jobs/{JOB}/resume").status_code == 200

    assert [(e.action, e.changes) for e in events()[1:]] == [
        ("paused", {"paused": [False, True]}),
        ("resumed", {"paused": [True, False]}),
    ]


def test_a_trigger_records_the_run_it_started(api, cron_job, broker):
    run_id = api.post(f"/api/cron/jobs/{JOB}/trigger").json()["run_id"]

    event = newest()
    assert (event.action, event.actor_name, event.via, event.changes) == (
        "triggered",
        "alice-uuid",
        "api",
        {"run_id": run_id},
    )


def test_a_backfill_records_its_range_and_runs(api, workflow, broker):
    assert post_cron(api, cron_expression="15 * * * *").status_code == 200
    start = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    end = start + timedelta(hours=3)

    body = {"start": start.isoformat(), "end": end.isoformat()}
    assert api.post(f"/api/cron/jobs/{JOB}/backfill", body, format="json").status_code == 200

    event = newest()
    assert event.action == "backfilled"
    assert event.changes == {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "runs_created": 3,
        "slots_already_run": 0,
    }


def test_cancelling_a_jobs_runs_records_how_many(api, cron_job, broker):
    for _ in range(2):
        run_enqueue(workflow=cron_job.workflow, owner=cron_job.owner, job=cron_job, trigger="manual", input_text="")

    assert api.post(f"/api/cron/jobs/{JOB}/runs/cancel").status_code == 200
    assert api.post(f"/api/cron/jobs/{JOB}/runs/cancel").status_code == 200  # none left: nothing changes

    assert [(e.action, e.changes) for e in events()[1:]] == [("runs_cancelled", {"cancelled": 2, "stopping": 0})]


def test_pausing_after_failures_is_recorded_as_the_system(api, workflow, alice):
    assert post_cron(api, pause_after_failures=2).status_code == 200
    job = CronJob.objects.get(job_id=JOB)
    failed = [
        Run.objects.create(
            workflow=workflow,
            owner=alice,
            job=job,
            trigger="schedule",
            status=Run.Status.FAILED,
            error="boom",
            scheduled_for=timezone.now() - timedelta(minutes=n),
            finished_at=timezone.now(),
        )
        for n in (2, 1)
    ]

    assert services.job_pause_after_failures(job_pk=job.pk) is True

    event = newest()
    assert (event.action, event.actor, event.actor_name, event.via, event.owner) == (
        "paused_after_failures",
        None,
        "",
        "system",
        alice,
    )
    job.refresh_from_db()
    assert event.changes == {
        "paused": [False, True],
        "pause_reason": job.pause_reason,
        "consecutive_failures": 2,
        "last_run_id": str(failed[-1].id),
    }


def test_an_operator_acting_on_a_users_job_is_its_actor(operator_api, cron_job, alice):
    assert operator_api.post(f"/api/cron/jobs/{JOB}/pause").status_code == 200

    event = newest()
    assert (event.action, event.actor_name, event.owner) == ("paused", "operator", alice)


def test_an_admin_bulk_action_is_recorded_as_via_admin(admin_client, admin_user, cron_job):
    response = admin_client.post(
        "/admin/cronjobs/cronjob/", {"action": "pause_jobs", "_selected_action": [cron_job.pk]}
    )

    assert response.status_code == 302
    event = newest()
    assert (event.action, event.actor, event.via) == ("paused", admin_user, "admin")


def test_deleting_a_job_keeps_its_history(api, cron_job, alice):
    assert api.post(f"/api/cron/jobs/{JOB}/pause").status_code == 200

    assert api.delete(f"/api/cron/jobs/{JOB}").status_code == 200

    assert not CronJob.objects.filter(job_id=JOB).exists()
    assert [e.action for e in events()] == ["created", "paused", "deleted"]
    deleted = newest()
    assert (deleted.actor_name, deleted.via) == ("alice-uuid", "api")
    assert deleted.changes == {**CREATED_SETTINGS, "paused": True}
    # The API reaches a job's history through the job; operators still read it in the admin.
    assert api.get(HISTORY).status_code == 404


def test_a_refused_change_records_nothing(bob_api, cron_job):
    before = db_snapshot()

    assert_refused(bob_api.post(f"/api/cron/jobs/{JOB}/pause"), 403)

    assert db_snapshot() == before


# --- GET /api/cron/jobs/{job_id}/history -----------------------------------------------------------


def test_the_history_lists_the_changes_newest_first(api, cron_job, broker):
    api.post(f"/api/cron/jobs/{JOB}/pause")
    api.post(f"/api/cron/jobs/{JOB}/resume")
    run_id = api.post(f"/api/cron/jobs/{JOB}/trigger").json()["run_id"]

    response = api.get(HISTORY)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["job_id"], body["total_events"]) == ("success", JOB, 4)
    assert [event["action"] for event in body["events"]] == ["triggered", "resumed", "paused", "created"]
    first = body["events"][0]
    assert set(first) == {"action", "at", "actor", "via", "changes"}
    assert (first["actor"], first["via"], first["changes"]) == ("alice-uuid", "api", {"run_id": run_id})
    assert first["at"] == newest().at.isoformat()


def test_the_system_shows_as_a_null_actor(api, cron_job):
    AuditEvent.objects.create(
        kind="job", object_id=JOB, owner=cron_job.owner, action="paused_after_failures", via="system"
    )

    event = api.get(HISTORY).json()["events"][0]

    assert (event["action"], event["actor"], event["via"]) == ("paused_after_failures", None, "system")


def test_the_history_is_paged(api, cron_job):
    for _ in range(3):
        api.post(f"/api/cron/jobs/{JOB}/pause")
        api.post(f"/api/cron/jobs/{JOB}/resume")

    body = api.get(HISTORY, {"limit": 2, "offset": 1}).json()

    assert body["total_events"] == 7
    assert [event["action"] for event in body["events"]] == ["paused", "resumed"]
    assert_refused(api.get(HISTORY, {"limit": 0}), 400)


def test_another_user_is_refused_the_history(bob_api, operator_api, cron_job):
    assert_refused(bob_api.get(HISTORY), 403, "You don't have permission to access this job")
    assert_refused(bob_api.get("/api/cron/jobs/no-such-job/history"), 404)
    assert operator_api.get(HISTORY).status_code == 200


# --- workflows ---------------------------------------------------------------------------------------


def test_saving_and_deleting_a_workflow_is_recorded_without_secrets(api, alice):
    secret = [{"type": "http", "url": "https://example.com/hook", "headers": {"Authorization": "Bearer s3cret"}}]
    body = {"workflow_id": "wf", "name": "First", "steps": ECHO_STEPS}
    assert api.post("/api/workflows", body, format="json").status_code == 200
    assert api.post("/api/workflows", {**body, "name": "Second", "steps": secret}, format="json").status_code == 200

    assert api.delete("/api/workflows/wf").status_code == 200

    created, replaced, deleted = events("wf", AuditEvent.Kind.WORKFLOW)
    assert (created.action, created.actor, created.via, created.changes) == (
        "created",
        alice,
        "api",
        {"name": "First", "steps": ECHO_STEPS, "tags": [], "metadata": {}},
    )
    assert replaced.action == "replaced"
    assert replaced.changes["name"] == ["First", "Second"]
    assert replaced.changes["steps"][0] == ECHO_STEPS
    assert replaced.changes["steps"][1][0]["headers"] == {"Authorization": "[redacted]"}
    assert deleted.action == "deleted"
    assert "s3cret" not in str([created.changes, replaced.changes, deleted.changes])


def test_a_workflow_edited_in_the_admin_is_recorded_as_via_admin(admin_client, admin_user, workflow):
    response = admin_client.post(
        f"/admin/workflows/workflow/{workflow.pk}/change/",
        {"name": "renamed", "steps": '[{"type": "python", "callable": "echo"}]'},
    )

    assert response.status_code == 302
    event = newest(workflow.workflow_id, AuditEvent.Kind.WORKFLOW)
    assert (event.action, event.actor, event.via) == ("replaced", admin_user, "admin")
    assert event.changes["name"] == [workflow.name, "renamed"]


def test_a_new_secret_value_is_a_change_though_both_read_redacted(alice):
    def steps(token: str) -> list[dict]:
        return [{"type": "http", "url": "https://example.com/hook", "headers": {"X-Token": token}}]

    workflow_services.workflow_save(owner=alice, workflow_id="wf", name="wf", steps=steps("one"))
    workflow_services.workflow_save(owner=alice, workflow_id="wf", name="wf", steps=steps("two"))

    redacted = steps("[redacted]")
    assert newest("wf", AuditEvent.Kind.WORKFLOW).changes == {"steps": [redacted, redacted]}


# --- admin -------------------------------------------------------------------------------------------


def test_operators_read_a_deleted_jobs_history_in_the_admin(admin_client, api, cron_job):
    job_page = admin_client.get(f"/admin/cronjobs/cronjob/{cron_job.pk}/change/").content.decode()
    link = f"/admin/audit/auditevent/?kind__exact=job&amp;object_id={JOB}"
    assert link in job_page
    api.delete(f"/api/cron/jobs/{JOB}")

    response = admin_client.get("/admin/audit/auditevent/", {"kind__exact": "job", "object_id": JOB})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Deleted" in page and "Created" in page
    found = admin_client.get("/admin/audit/auditevent/", {"q": "alice-uuid", "action__exact": "deleted"})
    assert JOB in found.content.decode()
    event = newest()
    assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {}).status_code == 403
