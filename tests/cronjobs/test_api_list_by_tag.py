"""GET /api/cron/jobs?tag= and /api/cron/jobs/all?tag=: only the jobs with every tag asked for, counted
as a whole."""

import pytest

from .helpers import assert_refused, post_cron

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(api, workflow):
    """Alice's jobs: a has video and daily, b has video, c has daily, d has none."""
    for job_id, tags in (("a", ["video", "daily"]), ("b", ["video"]), ("c", ["daily"]), ("d", [])):
        assert post_cron(api, job_id=job_id, tags=tags).status_code == 200


def listed(response) -> tuple[int, list[str]]:
    assert response.status_code == 200, response.json()
    body = response.json()
    return body["total_jobs"], [job["job_id"] for job in body["jobs"]]


def test_it_lists_the_jobs_with_a_tag(api, tagged):
    assert listed(api.get("/api/cron/jobs?tag=video")) == (2, ["a", "b"])
    assert listed(api.get("/api/cron/jobs?tag=daily")) == (2, ["a", "c"])


def test_with_two_tags_it_lists_the_jobs_that_have_both(api, tagged):
    assert listed(api.get("/api/cron/jobs?tag=video&tag=daily")) == (1, ["a"])
    assert listed(api.get("/api/cron/jobs?tag=daily&tag=video&tag=video")) == (1, ["a"])


def test_a_tag_no_job_has_lists_nothing(api, tagged):
    assert listed(api.get("/api/cron/jobs?tag=weekly")) == (0, [])
    assert listed(api.get("/api/cron/jobs?tag=video&tag=weekly")) == (0, [])


def test_tags_match_exactly(api, tagged):
    assert listed(api.get("/api/cron/jobs?tag=Video")) == (0, [])
    assert listed(api.get("/api/cron/jobs?tag=vid")) == (0, [])


def test_a_page_of_the_filtered_jobs_counts_them_all(api, tagged):
    assert listed(api.get("/api/cron/jobs?tag=video&limit=1")) == (2, ["a"])
    assert listed(api.get("/api/cron/jobs?tag=video&limit=1&offset=1")) == (2, ["b"])


def test_it_leaves_out_other_users_jobs_with_the_tag(api, bob_api, tagged, bob_workflow):
    post_cron(bob_api, job_id="bobs", workflow_id="bob-workflow", user_id="bob-uuid", tags=["video"])

    assert listed(api.get("/api/cron/jobs?tag=video")) == (2, ["a", "b"])
    assert listed(bob_api.get("/api/cron/jobs?tag=video")) == (1, ["bobs"])


def test_an_operator_lists_everyones_jobs_by_tag(operator_api, bob_api, tagged, bob_workflow):
    post_cron(bob_api, job_id="bobs", workflow_id="bob-workflow", user_id="bob-uuid", tags=["video", "daily"])

    assert listed(operator_api.get("/api/cron/jobs/all?tag=video")) == (3, ["a", "b", "bobs"])
    assert listed(operator_api.get("/api/cron/jobs/all?tag=video&tag=daily")) == (2, ["a", "bobs"])
    assert listed(operator_api.get("/api/cron/jobs/all?tag=video&limit=2")) == (3, ["a", "b"])


def test_only_operators_list_every_job_even_by_tag(api, tagged):
    assert_refused(api.get("/api/cron/jobs/all?tag=video"), 403, "Only operators (staff users) can list all jobs")


@pytest.mark.parametrize("url", ["/api/cron/jobs", "/api/cron/jobs/all"])
@pytest.mark.parametrize(
    "query, detail",
    [
        ("tag=", "tag must be 1-40 characters of letters, digits, '_', '-', '.' or ':'; \"\" is not"),
        ("tag=a%20b", "tag must be 1-40 characters of letters, digits, '_', '-', '.' or ':'; \"a b\" is not"),
        (
            f"tag={'x' * 41}",
            f"tag must be 1-40 characters of letters, digits, '_', '-', '.' or ':'; \"{'x' * 41}\" is not",
        ),
        ("&".join(f"tag=t{n}" for n in range(11)), "tag: at most 10 different tags; 11 were given"),
    ],
    ids=["empty", "space", "41 characters", "eleven"],
)
def test_a_bad_tag_filter_is_refused_naming_the_parameter(api, operator_api, tagged, url, query, detail):
    client = operator_api if url.endswith("all") else api

    assert_refused(client.get(f"{url}?{query}"), 400, detail)
