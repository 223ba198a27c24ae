"""How many SQL statements each hot /api/cron request sends (its user's lookup included), pinned so
that they cannot creep back: every statement the ORM builds costs the web process more CPU than the
database's answer (docs/performance.md, Load).

The test's own transaction turns a service's transaction into a savepoint: its SAVEPOINT and
RELEASE count here, two statements more than in production.
"""

import pytest

from workflows.models import Run

from .helpers import post_cron, post_interval

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(api, workflow):
    """Both of alice's jobs, their schedules' shared rows already there (as for every job but the
    first of a schedule), and a few runs of the cron job."""
    assert post_cron(api).status_code == 200
    assert post_interval(api).status_code == 200
    assert post_cron(api, job_id="other-cron").status_code == 200
    assert post_interval(api, job_id="other-interval").status_code == 200
    for _ in range(3):
        assert api.post("/api/cron/jobs/daily-video-generation/trigger").status_code == 200


def sent(django_assert_max_num_queries, most: int, request) -> dict:
    with django_assert_max_num_queries(most):
        response = request()
    assert response.status_code == 200, response.json()
    return response.json()


def test_reads_take_the_users_lookup_and_one_statement(api, operator_api, jobs, django_assert_max_num_queries):
    assert len(sent(django_assert_max_num_queries, 2, lambda: api.get("/api/cron/jobs"))["jobs"]) == 4
    assert sent(django_assert_max_num_queries, 2, lambda: api.get("/api/cron/jobs/daily-video-generation"))["job"]
    assert sent(django_assert_max_num_queries, 2, lambda: operator_api.get("/api/cron/jobs/all"))["jobs"]


def test_a_jobs_runs_take_three_statements_however_many_there_are(api, jobs, django_assert_max_num_queries):
    runs = sent(django_assert_max_num_queries, 3, lambda: api.get("/api/cron/jobs/daily-video-generation/runs"))
    assert len(runs["runs"]) == Run.objects.count() == 3


def test_creating_a_job_takes_eleven_statements(api, jobs, django_assert_max_num_queries):
    sent(django_assert_max_num_queries, 13, lambda: post_cron(api, job_id="third-cron"))
    sent(django_assert_max_num_queries, 13, lambda: post_interval(api, job_id="third-interval"))


def test_replacing_a_job_takes_eight_statements(api, jobs, django_assert_max_num_queries):
    sent(django_assert_max_num_queries, 10, lambda: post_cron(api, input="again"))


def test_pausing_and_resuming_take_six_statements(api, jobs, django_assert_max_num_queries):
    sent(django_assert_max_num_queries, 8, lambda: api.post("/api/cron/jobs/daily-video-generation/pause"))
    sent(django_assert_max_num_queries, 8, lambda: api.post("/api/cron/jobs/daily-video-generation/resume"))


def test_triggering_takes_nine_statements(api, jobs, django_assert_max_num_queries):
    sent(django_assert_max_num_queries, 11, lambda: api.post("/api/cron/jobs/daily-video-generation/trigger"))


def test_deleting_a_job_with_runs_takes_twelve_statements(api, jobs, django_assert_max_num_queries):
    sent(django_assert_max_num_queries, 14, lambda: api.delete("/api/cron/jobs/daily-video-generation"))
