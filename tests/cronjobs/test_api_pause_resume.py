"""POST /api/cron/jobs/{job_id}/pause and /resume: the beat row follows, and beat is told."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from cronjobs.models import CronJob

from .helpers import assert_cron_next_run, assert_refused, db_snapshot

pytestmark = pytest.mark.django_db


def task_of(job: CronJob) -> PeriodicTask:
    return PeriodicTask.objects.get(pk=job.periodic_task_id)


def test_it_pauses_the_job_with_the_spec_body(api, cron_job):
    response = api.post("/api/cron/jobs/daily-video-generation/pause")

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Job daily-video-generation paused successfully",
        "job_id": "daily-video-generation",
    }
    cron_job.refresh_from_db()
    assert cron_job.paused is True


def test_it_accepts_a_trailing_slash_on_pause_and_resume(api, cron_job):
    assert api.post("/api/cron/jobs/daily-video-generation/pause/").status_code == 200
    assert task_of(cron_job).enabled is False

    assert api.post("/api/cron/jobs/daily-video-generation/resume/").status_code == 200
    assert task_of(cron_job).enabled is True


def test_it_disables_the_periodic_task_on_pause(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    assert task_of(cron_job).enabled is False


def test_it_shows_no_next_run_time_while_paused(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    job = api.get("/api/cron/jobs/daily-video-generation").json()["job"]

    assert job["paused"] is True
    assert job["next_run_time"] is None


def test_it_tells_the_stock_scheduler_about_a_pause(api, cron_job, stock_scheduler):
    before = PeriodicTasks.last_change()

    api.post("/api/cron/jobs/daily-video-generation/pause")

    assert PeriodicTasks.last_change() > before


def test_it_keeps_a_paused_job_paused_when_paused_again(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    response = api.post("/api/cron/jobs/daily-video-generation/pause")

    assert response.status_code == 200
    assert response.json()["message"] == "Job daily-video-generation paused successfully"
    cron_job.refresh_from_db()
    assert cron_job.paused is True
    assert task_of(cron_job).enabled is False


def test_it_resumes_the_job_with_the_spec_body(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    response = api.post("/api/cron/jobs/daily-video-generation/resume")

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Job daily-video-generation resumed successfully",
        "job_id": "daily-video-generation",
    }
    cron_job.refresh_from_db()
    assert cron_job.paused is False
    assert task_of(cron_job).enabled is True


def test_it_tells_the_stock_scheduler_about_a_resume(api, cron_job, stock_scheduler):
    api.post("/api/cron/jobs/daily-video-generation/pause")
    before = PeriodicTasks.last_change()

    api.post("/api/cron/jobs/daily-video-generation/resume")

    assert PeriodicTasks.last_change() > before


def test_it_shows_the_next_cron_slot_after_resume(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")
    api.post("/api/cron/jobs/daily-video-generation/resume")

    before = timezone.now()
    job = api.get("/api/cron/jobs/daily-video-generation").json()["job"]
    after = timezone.now()

    assert job["paused"] is False
    assert_cron_next_run(job["next_run_time"], "0 9 * * *", "UTC", before, after)


def test_it_keeps_an_interval_job_on_its_slots_after_resume(api, interval_job):
    api.post("/api/cron/jobs/hourly-video-check/pause")
    api.post("/api/cron/jobs/hourly-video-check/resume")

    before = timezone.now()
    job = api.get("/api/cron/jobs/hourly-video-check").json()["job"]

    # Slots stay anchor + k * interval; resuming neither shifts them nor replays missed ones.
    every = timedelta(hours=1, minutes=30)
    next_run = datetime.fromisoformat(job["next_run_time"])
    assert (next_run - interval_job.anchor) % every == timedelta(0)
    # The anchor is rounded up to a whole second, so it may still be ahead of ``before``; the first
    # slot is one interval after it.
    assert before < next_run <= max(before, interval_job.anchor) + every


def test_it_leaves_a_running_job_alone_when_resumed(api, cron_job):
    before = db_snapshot()

    response = api.post("/api/cron/jobs/daily-video-generation/resume")

    assert response.status_code == 200
    assert response.json()["message"] == "Job daily-video-generation resumed successfully"
    assert db_snapshot() == before


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_it_answers_404_with_the_spec_text_for_an_unknown_job(api, cron_job, action):
    before = db_snapshot()

    response = api.post(f"/api/cron/jobs/no-such-job/{action}")

    assert_refused(response, 404, "Job no-such-job not found")
    assert db_snapshot() == before


def test_it_leaves_the_stock_schedulers_marker_alone_under_our_scheduler(api, cron_job):
    # Our beat fires by each job's next_fire_at; the marker would only make every job write wait on
    # one shared row.
    before = PeriodicTasks.last_change()

    api.post("/api/cron/jobs/daily-video-generation/pause")
    api.post("/api/cron/jobs/daily-video-generation/resume")

    assert PeriodicTasks.last_change() == before
