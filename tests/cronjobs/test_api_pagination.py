"""limit and offset on the job lists and a job's runs; the totals always count everything."""

import pytest
from django.conf import settings

from cronjobs import schedules
from workflows.models import Run

from .helpers import assert_refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_jobs(workflow, make_job):
    return [make_job(workflow, schedules.cron_spec(expression=f"{i} 9 * * *"), f"job-{i}") for i in range(5)]


def ids(body) -> list[str]:
    return [job["job_id"] for job in body["jobs"]]


def test_a_page_of_the_callers_jobs(api, five_jobs):
    body = api.get("/api/cron/jobs?limit=2&offset=1").json()

    assert ids(body) == ["job-1", "job-2"]  # in job id order, as the whole list
    assert body["total_jobs"] == 5


def test_without_limit_every_job_of_the_caller_comes_back(api, five_jobs):
    body = api.get("/api/cron/jobs").json()

    assert ids(body) == [f"job-{i}" for i in range(5)] and body["total_jobs"] == 5


def test_an_offset_past_the_end_is_an_empty_page(api, five_jobs):
    body = api.get("/api/cron/jobs?offset=10").json()

    assert body["jobs"] == [] and body["total_jobs"] == 5


def test_the_operators_list_is_paged_with_a_default(operator_api, five_jobs, settings):
    settings.ALL_JOBS_PAGE_DEFAULT = 3

    first = operator_api.get("/api/cron/jobs/all").json()
    rest = operator_api.get("/api/cron/jobs/all?offset=3").json()

    assert ids(first) == ["job-0", "job-1", "job-2"] and first["total_jobs"] == 5
    assert ids(rest) == ["job-3", "job-4"]


def test_a_page_of_a_jobs_runs_newest_first(api, five_jobs):
    job = five_jobs[0]
    runs = [
        Run.objects.create(job=job, workflow=job.workflow, owner=job.owner, trigger=Run.Trigger.MANUAL)
        for _ in range(4)
    ]

    body = api.get(f"/api/cron/jobs/{job.job_id}/runs?limit=2&offset=1").json()

    newest_first = [str(run.id) for run in reversed(runs)]
    assert [run["run_id"] for run in body["runs"]] == newest_first[1:3]
    assert body["total_runs"] == 4


@pytest.mark.parametrize("url", ["/api/cron/jobs", "/api/cron/jobs/all", "/api/cron/jobs/job-0/runs"])
@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=0", "limit must be a whole number from 1 to {max}"),
        ("limit=abc", "limit must be a whole number from 1 to {max}"),
        ("limit=99999", "limit must be a whole number from 1 to {max}"),
        ("offset=-1", "offset must be a whole number from 0 to 1000000000"),
        ("offset=1.5", "offset must be a whole number from 0 to 1000000000"),
        ("offset=", "offset must be a whole number from 0 to 1000000000"),
    ],
)
def test_bad_paging_is_refused(operator_api, five_jobs, url, query, detail):
    maximum = settings.RUNS_PAGE_MAX if url.endswith("runs") else settings.LIST_PAGE_MAX

    assert_refused(operator_api.get(f"{url}?{query}"), 400, detail.format(max=maximum))
