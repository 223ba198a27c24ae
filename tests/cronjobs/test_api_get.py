"""GET /api/cron/jobs/{job_id}: one job in the spec's shape, 404 with the spec's text."""

import pytest
from django.utils import timezone

from .helpers import SPEC_CRON_JOB, assert_cron_next_run, assert_refused, post_cron, spec_fields

pytestmark = pytest.mark.django_db


def test_it_returns_the_job_with_the_spec_body(api, cron_job):
    before = timezone.now()
    response = api.get("/api/cron/jobs/daily-video-generation")
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "job"}
    assert body["status"] == "success"
    job = spec_fields(body["job"])
    assert_cron_next_run(job.pop("next_run_time"), "0 9 * * *", "UTC", before, after)
    assert job == SPEC_CRON_JOB


def test_it_returns_the_same_job_object_as_create(api, workflow):
    created = post_cron(api).json()["job"]

    fetched = api.get("/api/cron/jobs/daily-video-generation").json()["job"]

    # next_run_time aside: a slot may pass between the two requests.
    assert {**fetched, "next_run_time": None} == {**created, "next_run_time": None}


def test_it_accepts_a_trailing_slash(api, cron_job):
    response = api.get("/api/cron/jobs/daily-video-generation/")

    assert response.status_code == 200
    assert response.json()["job"]["job_id"] == "daily-video-generation"


def test_it_answers_404_with_the_spec_text_for_an_unknown_job(api, cron_job):
    response = api.get("/api/cron/jobs/no-such-job")

    assert_refused(response, 404, "Job no-such-job not found")


def test_it_addresses_a_job_id_with_every_allowed_punctuation(api, workflow):
    job_id = "user-1:daily_video.v2"
    assert post_cron(api, job_id=job_id).status_code == 200

    response = api.get(f"/api/cron/jobs/{job_id}")

    assert response.status_code == 200
    assert response.json()["job"]["job_id"] == job_id


def test_it_shows_a_paused_job_with_no_next_run_time(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")

    job = api.get("/api/cron/jobs/daily-video-generation").json()["job"]

    assert (job["paused"], job["next_run_time"]) == (True, None)


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("delete", ""), ("post", "/trigger"), ("post", "/pause"), ("get", "/runs")]
)
def test_it_answers_404_for_a_job_id_with_a_nul_character(api, cron_job, method, suffix):
    response = getattr(api, method)(f"/api/cron/jobs/daily%00video{suffix}")

    assert_refused(response, 404, "Job daily\x00video not found")
