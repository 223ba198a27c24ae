"""How many SQL statements the hot /api/runs reads send (their user's lookup included), pinned so
that they cannot creep back (tests/cronjobs/test_api_statements.py pins the jobs')."""

import pytest

from cronjobs import schedules
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(api, workflow, make_job):
    make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), "daily")
    ids = [api.post("/api/cron/jobs/daily/trigger").json()["run_id"] for _ in range(3)]
    ids.append(
        api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json").json()["run"]["run_id"]
    )
    return ids


def test_a_run_takes_two_statements(api, runs, django_assert_max_num_queries):
    for run_id in runs:  # with a job and without one
        with django_assert_max_num_queries(2):
            response = api.get(f"/api/runs/{run_id}")
        assert response.status_code == 200


@pytest.mark.parametrize("query", ["", "?job_id=daily", "?status=queued&tag=video&since=2025-01-01T00:00:00Z"])
def test_a_run_list_takes_two_statements_however_many_runs_it_shows(api, runs, query, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = api.get(f"/api/runs{query}")
    assert response.status_code == 200
    assert Run.objects.count() == 4
