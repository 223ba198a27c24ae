"""GET /api/runs: the caller's own runs, newest first, filtered by tag, status, job and time range;
and the same filters on GET /api/cron/jobs/{job_id}/runs.

Runs are recorded through the services the API uses; their creation times are then pinned, so the
time range is about known instants.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from cronjobs import schedules, services
from tests.cronjobs.helpers import assert_refused
from workflows.models import Run
from workflows.runs import run_enqueue
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
STEPS = [{"type": "python", "callable": "echo"}]


def make_job(owner, workflow, job_id: str, tags: list[str]):
    return services.job_upsert(
        caller=owner,
        job_id=job_id,
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="x",
        spec=schedules.cron_spec(expression="0 9 * * *"),
        tags=tags,
    )


def record(runs: list[Run], workflow, *, job=None, status: str = Run.Status.QUEUED) -> Run:
    """A run of the job (or of the workflow alone), recorded one minute after the previous one."""
    run = run_enqueue(
        workflow=workflow, owner=workflow.owner, job=job, trigger=Run.Trigger.MANUAL, input_text=str(len(runs))
    )
    run.created_at = START + timedelta(minutes=len(runs))
    run.status = status
    run.save(update_fields=["created_at", "status"])
    runs.append(run)
    return run


@pytest.fixture
def world(alice, bob, operator):
    """Alice's runs, oldest first, each a minute after the last:
    0 job a (video, daily) queued, 1 job b (video) succeeded, 2 job c (no tags) failed,
    3 workflow "tagged" without a job (video) succeeded, 4 job a failed, 5 workflow "plain" (no tags)
    cancelled, 6 job c's run of workflow "tagged" (video) succeeded.
    Bob and the operator each have a run of a video-tagged job of theirs."""
    plain = workflow_save(owner=alice, workflow_id="plain", name="", steps=STEPS)
    tagged = workflow_save(owner=alice, workflow_id="tagged", name="", steps=STEPS, tags=["video"])
    a = make_job(alice, plain, "a", ["video", "daily"])
    b = make_job(alice, plain, "b", ["video"])
    c = make_job(alice, tagged, "c", [])
    runs: list[Run] = []
    record(runs, plain, job=a)
    record(runs, plain, job=b, status=Run.Status.SUCCEEDED)
    record(runs, tagged, job=c, status=Run.Status.FAILED)
    record(runs, tagged, status=Run.Status.SUCCEEDED)
    record(runs, plain, job=a, status=Run.Status.FAILED)
    record(runs, plain, status=Run.Status.CANCELLED)
    record(runs, tagged, job=c, status=Run.Status.SUCCEEDED)
    others = []
    for user in (bob, operator):
        theirs = workflow_save(owner=user, workflow_id=f"wf-{user.username}", name="", steps=STEPS, tags=["video"])
        record(others, theirs, job=make_job(user, theirs, f"job-{user.username}", ["video", "daily"]))
    return [str(run.id) for run in runs]


def listed(response) -> tuple[int, list[str]]:
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"status", "total_runs", "runs"} or set(body) == {"status", "job_id", "total_runs", "runs"}
    assert body["status"] == "success"
    return body["total_runs"], [run["run_id"] for run in body["runs"]]


def get(api, path: str = "/api/runs", **query):
    return api.get(f"{path}?{urlencode(query, doseq=True)}")


def pick(ids: list[str], *indexes: int) -> list[str]:
    """Those runs, newest first, as the list shows them."""
    return [ids[index] for index in sorted(indexes, reverse=True)]


def test_it_lists_the_callers_runs_newest_first_with_the_total(api, world):
    assert listed(get(api)) == (7, pick(world, *range(7)))


def test_each_run_is_shown_with_its_tags(api, world):
    runs = {run["run_id"]: run for run in get(api).json()["runs"]}

    assert runs[world[0]]["tags"] == ["video", "daily"]
    assert runs[world[2]]["tags"] == []
    assert runs[world[3]]["tags"] == ["video"]  # no job: the workflow's
    assert runs[world[2]]["job_id"] == "c"


def test_a_page_counts_every_run_the_filters_let_through(api, world):
    assert listed(get(api, limit=2)) == (7, pick(world, 6, 5))
    assert listed(get(api, limit=2, offset=6)) == (7, pick(world, 0))
    assert listed(get(api, tag="video", limit=1, offset=1)) == (4, pick(world, 3))


def test_another_users_runs_are_never_listed(client_for, bob, world):
    total, ids = listed(get(client_for(bob)))
    assert total == 1
    assert not set(ids) & set(world)

    total, ids = listed(get(client_for(bob), tag="video"))
    assert total == 1
    assert not set(ids) & set(world)
    assert listed(get(client_for(bob), job_id="a")) == (0, [])


def test_an_operator_lists_only_their_own_runs(client_for, operator, world):
    total, ids = listed(get(client_for(operator), tag="video"))

    assert total == 1
    assert Run.objects.get(id=ids[0]).owner == operator


def test_by_tag_it_lists_runs_whose_job_has_it_or_without_a_job_whose_workflow_has_it(api, world):
    # Run 6 is of workflow "tagged" but its job, c, has no tags: the job's tags decide.
    assert listed(get(api, tag="video")) == (4, pick(world, 0, 1, 3, 4))
    assert listed(get(api, tag="daily")) == (2, pick(world, 0, 4))


def test_by_two_tags_it_lists_the_runs_that_have_both(api, world):
    assert listed(get(api, tag=["video", "daily"])) == (2, pick(world, 0, 4))
    assert listed(get(api, tag=["video", "weekly"])) == (0, [])


def test_a_run_is_found_by_its_jobs_tags_as_they_are_now(api, alice, world):
    plain = alice.workflows.get(workflow_id="plain")
    make_job(alice, plain, "b", ["weekly"])

    assert listed(get(api, tag="weekly")) == (1, pick(world, 1))
    assert listed(get(api, tag="video")) == (3, pick(world, 0, 3, 4))
    assert Run.objects.get(id=world[1]).tags == ["video"]  # what it was recorded with stays


def test_by_status_it_lists_the_runs_in_any_status_given(api, world):
    assert listed(get(api, status="failed")) == (2, pick(world, 2, 4))
    assert listed(get(api, status=["succeeded", "cancelled"])) == (4, pick(world, 1, 3, 5, 6))
    assert listed(get(api, status="running")) == (0, [])


def test_by_time_it_lists_the_runs_recorded_from_since_until_before_until(api, world):
    since, until = START + timedelta(minutes=2), START + timedelta(minutes=5)

    assert listed(get(api, since=since.isoformat(), until=until.isoformat())) == (3, pick(world, 2, 3, 4))
    assert listed(get(api, since=since.isoformat())) == (5, pick(world, 2, 3, 4, 5, 6))
    assert listed(get(api, until=until.isoformat())) == (5, pick(world, 0, 1, 2, 3, 4))


def test_times_are_read_with_their_offset(api, world):
    # 11:02 in Paris (UTC+2 in June) is 09:02 UTC: run 2; "Z" is UTC.
    assert listed(get(api, since="2025-06-01T11:02:00+02:00", until="2025-06-01T09:03:00Z")) == (1, pick(world, 2))
    assert listed(get(api, since="2025-06-01T09:06:00z")) == (1, pick(world, 6))


def test_by_job_it_lists_that_jobs_runs(api, world):
    assert listed(get(api, job_id="a")) == (2, pick(world, 0, 4))
    assert listed(get(api, job_id="no-such-job")) == (0, [])
    assert listed(get(api, job_id="job-bob-uuid")) == (0, [])  # bob's


def test_the_filters_combine(api, world):
    query = {"tag": "video", "status": ["failed", "queued"], "since": (START + timedelta(minutes=1)).isoformat()}

    assert listed(get(api, **query)) == (1, pick(world, 4))
    assert listed(get(api, **query, job_id="b")) == (0, [])


def test_a_trailing_slash_is_accepted(api, world):
    assert api.get("/api/runs/").status_code == 200


def test_it_needs_a_token(client_for, world):
    assert_refused(client_for().get("/api/runs"), 401)


BAD = {
    "unknown status": (
        {"status": "done"},
        'status must be one of queued, running, succeeded, failed, skipped, cancelled; "done" is not',
    ),
    "status in capitals": (
        {"status": ["failed", "FAILED"]},
        'status must be one of queued, running, succeeded, failed, skipped, cancelled; "FAILED" is not',
    ),
    "bad tag": (
        {"tag": "a b"},
        "tag must be 1-40 characters of letters, digits, '_', '-', '.' or ':'; \"a b\" is not",
    ),
    "since without an offset": (
        {"since": "2025-06-01T09:00:00"},
        "since must be an ISO 8601 time with its UTC offset, like 2025-06-01T09:00:00Z or 2025-06-01T11:00:00+02:00 "
        '(in a URL, write + as %2B); "2025-06-01T09:00:00" is not',
    ),
    "until not a time": (
        {"until": "yesterday"},
        "until must be an ISO 8601 time with its UTC offset, like 2025-06-01T09:00:00Z or 2025-06-01T11:00:00+02:00 "
        '(in a URL, write + as %2B); "yesterday" is not',
    ),
    "a + left unencoded": (
        {"since": "2025-06-01T09:00:00 02:00"},
        "since must be an ISO 8601 time with its UTC offset, like 2025-06-01T09:00:00Z or 2025-06-01T11:00:00+02:00 "
        '(in a URL, write + as %2B); "2025-06-01T09:00:00 02:00" is not',
    ),
    "a time past the calendar": (
        {"since": "0001-01-01T00:00:00+05:00"},
        "since must be an ISO 8601 time with its UTC offset, like 2025-06-01T09:00:00Z or 2025-06-01T11:00:00+02:00 "
        '(in a URL, write + as %2B); "0001-01-01T00:00:00+05:00" is not',
    ),
    "since after until": (
        {"since": "2025-06-02T00:00:00Z", "until": "2025-06-01T00:00:00Z"},
        "since must be before until",
    ),
    "since equal to until": (
        {"since": "2025-06-01T00:00:00Z", "until": "2025-06-01T00:00:00Z"},
        "since must be before until",
    ),
    "bad job id": (
        {"job_id": "a/b"},
        "job_id must be 1-200 characters of letters, digits, '.', '_', ':' or '-'",
    ),
    "limit above the maximum": ({"limit": "501"}, "limit must be a whole number from 1 to 500"),
}


@pytest.mark.parametrize("query, detail", BAD.values(), ids=BAD.keys())
def test_a_bad_filter_is_refused_naming_the_parameter(api, world, query, detail):
    assert_refused(get(api, **query), 400, detail)


# --- the same filters on one job's runs ------------------------------------------------------------


def test_a_jobs_runs_are_filtered_by_status_and_time(api, world):
    path = "/api/cron/jobs/a/runs"

    assert listed(get(api, path)) == (2, pick(world, 0, 4))
    assert listed(get(api, path, status="failed")) == (1, pick(world, 4))
    assert listed(get(api, path, since=(START + timedelta(minutes=1)).isoformat())) == (1, pick(world, 4))
    assert listed(get(api, path, until=(START + timedelta(minutes=1)).isoformat())) == (1, pick(world, 0))


def test_a_jobs_runs_are_listed_by_tag_only_while_the_job_has_it(api, world):
    path = "/api/cron/jobs/a/runs"

    assert listed(get(api, path, tag=["daily", "video"])) == (2, pick(world, 0, 4))
    assert listed(get(api, path, tag="weekly")) == (0, [])


@pytest.mark.parametrize("query, detail", [BAD["unknown status"], BAD["bad tag"], BAD["since after until"]])
def test_a_bad_filter_of_a_jobs_runs_is_refused(api, world, query, detail):
    assert_refused(get(api, "/api/cron/jobs/a/runs", **query), 400, detail)
