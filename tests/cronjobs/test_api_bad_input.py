"""Bad request bodies: every one a 4xx with a ``detail`` a person can act on, never a 5xx, nothing written."""

import json

import pytest

from cronjobs.models import CronJob

from .helpers import CRON_BODY, INTERVAL_BODY, assert_refused, db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db

ENDPOINTS = {"cron": ("/api/cron/jobs/cron", CRON_BODY), "interval": ("/api/cron/jobs/interval", INTERVAL_BODY)}


@pytest.fixture(params=sorted(ENDPOINTS))
def endpoint(request):
    return ENDPOINTS[request.param]


@pytest.fixture
def refused(api, workflow):
    """POST a body, assert it was refused with a 4xx ``detail``, that nothing was written, return the detail."""

    def post(path: str, body=None, *, raw: bytes | None = None, content_type: str = "application/json") -> str:
        before = db_snapshot()
        if raw is None:
            response = api.post(path, body, format="json")
        else:
            response = api.generic("POST", path, raw, content_type=content_type)
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        assert_refused(response, response.status_code)
        assert db_snapshot() == before
        return response.json()["detail"]

    return post


def test_it_refuses_invalid_json(refused, endpoint):
    path, _ = endpoint

    detail = refused(path, raw=b'{"job_id": "daily-video-generation",')

    assert detail.startswith("Request body is not valid JSON")


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"job"', b"42"], ids=["list", "null", "string", "number"])
def test_it_refuses_json_that_is_not_an_object(refused, endpoint, raw):
    path, _ = endpoint

    refused(path, raw=raw)


def test_it_refuses_a_form_encoded_body(refused, endpoint):
    path, _ = endpoint

    refused(path, raw=b"job_id=daily&workflow_id=video", content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("field", ["job_id", "workflow_id"])
def test_it_refuses_a_body_without_a_required_id(refused, endpoint, field):
    path, body = endpoint

    detail = refused(path, {key: value for key, value in body.items() if key != field})

    assert field in detail


def test_it_refuses_a_cron_body_without_cron_expression(refused):
    detail = refused(
        "/api/cron/jobs/cron", {key: value for key, value in CRON_BODY.items() if key != "cron_expression"}
    )

    assert "cron_expression" in detail


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_id", 123),
        ("job_id", None),
        ("job_id", ["daily"]),
        ("workflow_id", {"id": "video-automation-workflow"}),
        ("user_id", 7),
        ("input", 5),
        ("input", None),
        ("timezone", 0),
    ],
)
def test_it_refuses_a_field_of_the_wrong_type(refused, endpoint, field, value):
    path, body = endpoint

    detail = refused(path, {**body, field: value})

    assert field in detail


@pytest.mark.parametrize("field", ["job_id", "workflow_id", "user_id", "input", "timezone"])
def test_it_refuses_a_nul_character_the_database_cannot_store(refused, endpoint, field):
    path, body = endpoint

    detail = refused(path, {**body, field: f"{body.get(field, 'UTC')}\u0000x"})

    assert field in detail


@pytest.mark.parametrize("value", [123, None, ["0 9 * * *"]])
def test_it_refuses_a_cron_expression_that_is_not_a_string(refused, value):
    detail = refused("/api/cron/jobs/cron", {**CRON_BODY, "cron_expression": value})

    assert "cron_expression" in detail


@pytest.mark.parametrize("value", ["1", True, 1.5, None, [1]], ids=["string", "true", "fraction", "null", "list"])
@pytest.mark.parametrize("field", ["hours", "minutes", "seconds"])
def test_it_refuses_an_interval_unit_that_is_not_an_integer(refused, field, value):
    detail = refused("/api/cron/jobs/interval", {**INTERVAL_BODY, field: value})

    assert field in detail


def test_it_refuses_an_integer_literal_too_long_to_read(refused):
    raw = b'{"job_id": "x", "workflow_id": "video-automation-workflow", "hours": ' + b"9" * 5000 + b"}"

    refused("/api/cron/jobs/interval", raw=raw)


@pytest.mark.parametrize(
    "job_id",
    [
        "",
        " ",
        "a" * 201,
        "daily video",
        "daily/video",
        "vidéo",
        "daily\nvideo",
        "daily?video",
        "daily%2Fvideo",
        "daily\n",
        " daily",
        ".",
        "..",
    ],
    ids=[
        "empty",
        "blank",
        "201-chars",
        "space",
        "slash",
        "non-ascii",
        "newline",
        "question-mark",
        "percent",
        "trailing-newline",
        "leading-space",
        "dot",
        "dot-dot",
    ],
)
def test_it_refuses_a_bad_job_id(refused, endpoint, job_id):
    path, body = endpoint

    detail = refused(path, {**body, "job_id": job_id})

    assert "job_id" in detail


@pytest.mark.parametrize("job_id", ["all", "cron", "interval"])
def test_it_refuses_a_job_id_that_collides_with_a_route(refused, endpoint, job_id):
    path, body = endpoint

    detail = refused(path, {**body, "job_id": job_id})

    assert job_id in detail


def test_it_accepts_a_job_id_of_200_characters(api, workflow):
    job_id = "a" * 200

    response = post_cron(api, job_id=job_id)

    assert response.status_code == 200, response.json()
    assert api.get(f"/api/cron/jobs/{job_id}").json()["job"]["job_id"] == job_id


def test_it_refuses_input_over_64_kib(refused, endpoint):
    path, body = endpoint

    detail = refused(path, {**body, "input": "x" * (64 * 1024 + 1)})

    assert "input" in detail
    assert "64 KiB" in detail


def test_it_counts_the_input_limit_in_bytes_not_characters(refused, endpoint):
    path, body = endpoint

    # 32,769 two-byte characters: fewer than 64 Ki characters, more than 64 KiB.
    detail = refused(path, {**body, "input": "é" * (32 * 1024 + 1)})

    assert "input" in detail


def test_it_accepts_input_of_exactly_64_kib(api, workflow):
    response = post_cron(api, input="x" * (64 * 1024))

    assert response.status_code == 200
    assert len(CronJob.objects.get(job_id="daily-video-generation").input_text) == 64 * 1024


def test_it_refuses_a_two_mib_input(refused, endpoint):
    path, body = endpoint

    refused(path, raw=json.dumps({**body, "input": "x" * (2 * 1024 * 1024)}).encode())


# --- how many jobs a user may have -----------------------------------------------------------


def test_it_refuses_a_job_beyond_the_per_user_limit(api, workflow, settings):
    settings.CRON_MAX_JOBS_PER_USER = 2
    assert post_cron(api, job_id="first").status_code == 200
    assert post_interval(api, job_id="second").status_code == 200
    before = db_snapshot()

    for response in (post_cron(api, job_id="third"), post_interval(api, job_id="third")):
        assert_refused(response, 400)
        assert "2 jobs" in response.json()["detail"]
    assert db_snapshot() == before


def test_it_still_replaces_a_job_at_the_per_user_limit(api, workflow, settings):
    settings.CRON_MAX_JOBS_PER_USER = 2
    post_cron(api, job_id="first")
    post_cron(api, job_id="second")

    response = post_interval(api, job_id="second")

    assert response.status_code == 200, response.json()
    assert CronJob.objects.get(job_id="second").schedule_type == "interval"
    assert CronJob.objects.count() == 2


def test_it_counts_the_limit_per_user(api, bob_api, workflow, bob_workflow, settings):
    settings.CRON_MAX_JOBS_PER_USER = 1
    assert post_cron(api, job_id="alice-only").status_code == 200

    response = post_cron(bob_api, job_id="bob-only", workflow_id="bob-workflow", user_id="bob-uuid")

    assert response.status_code == 200, response.json()


def test_it_allows_a_new_job_after_one_is_deleted_at_the_limit(api, workflow, settings):
    settings.CRON_MAX_JOBS_PER_USER = 1
    post_cron(api, job_id="first")
    api.delete("/api/cron/jobs/first")

    response = post_cron(api, job_id="second")

    assert response.status_code == 200, response.json()
