"""POST /api/cron/jobs/{job_id}/trigger: a manual run is recorded and handed to a worker after commit."""

import pytest

from workflows.models import Run

from .helpers import assert_refused, db_snapshot

pytestmark = pytest.mark.django_db


def test_it_triggers_the_job_with_the_spec_body(api, cron_job):
    response = api.post("/api/cron/jobs/daily-video-generation/trigger")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("status", "message", "job_id")} == {
        "status": "success",
        "message": "Job daily-video-generation triggered successfully",
        "job_id": "daily-video-generation",
    }
    assert set(body) <= {"status", "message", "job_id", "run_id"}


def test_it_accepts_a_trailing_slash(api, cron_job):
    response = api.post("/api/cron/jobs/daily-video-generation/trigger/")

    assert response.status_code == 200
    assert Run.objects.filter(job=cron_job).count() == 1


def test_it_records_a_queued_manual_run_for_the_job(api, cron_job):
    response = api.post("/api/cron/jobs/daily-video-generation/trigger")

    run = Run.objects.get(job=cron_job)
    assert str(run.id) == response.json()["run_id"]
    assert run.trigger == "manual"
    assert run.status == "queued"
    assert run.workflow == cron_job.workflow
    assert run.owner == cron_job.owner
    assert run.input_text == "Generate video about tech news"
    assert run.scheduled_for is None


def test_it_hands_the_run_to_a_worker_only_after_commit(api, cron_job, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/api/cron/jobs/daily-video-generation/trigger")
        # Published inside the transaction, a worker could look for a run it cannot see yet.
        assert broker.messages() == []

    assert len(callbacks) == 2  # the message, and the run's event for the live stream
    for callback in callbacks:
        callback()
    (message,) = broker.messages()
    assert message["headers"]["task"] == "workflows.tasks.execute_run"
    assert response.json()["run_id"] in message["headers"]["argsrepr"]


def test_it_does_not_move_the_schedule(api, cron_job):
    before = db_snapshot()

    api.post("/api/cron/jobs/daily-video-generation/trigger")

    after = db_snapshot()
    assert after["jobs"] == before["jobs"]
    assert after["periodic_tasks"] == before["periodic_tasks"]  # last_run_at included: the next slot stays
    assert after["beat_last_change"] == before["beat_last_change"]


def test_it_records_one_run_per_trigger(api, cron_job):
    for _ in range(3):
        api.post("/api/cron/jobs/daily-video-generation/trigger")

    assert Run.objects.filter(job=cron_job, trigger="manual").count() == 3


def test_it_answers_404_with_the_spec_text_for_an_unknown_job(api, cron_job):
    before = db_snapshot()

    response = api.post("/api/cron/jobs/no-such-job/trigger")

    assert_refused(response, 404, "Job no-such-job not found")
    assert db_snapshot() == before
