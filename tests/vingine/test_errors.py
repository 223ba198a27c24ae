"""Every error the API answers is a JSON object with exactly one key, ``detail``, holding a string."""

import json
import uuid

import pytest
from django.urls import get_resolver

from tests.conftest import access_token


def assert_error(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["detail"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


def test_a_missing_token_is_a_detail(client_for, db):
    assert_error(client_for().get("/api/workflows"), 401)


def test_an_invalid_token_is_a_detail(client_for, db):
    # simplejwt's own shape carries "code" and "messages" besides "detail".
    detail = assert_error(client_for(token="x.y.z").get("/api/workflows"), 401)

    assert "Token is invalid" in detail


def test_a_method_not_allowed_is_a_detail(api):
    detail = assert_error(api.get("/api/cron/jobs/cron"), 405)

    assert detail == 'Method "GET" not allowed.'


def test_a_method_not_allowed_on_a_workflow_is_a_detail(api):
    assert_error(api.put("/api/workflows/anything", {}, format="json"), 405)


def test_an_unknown_run_is_a_detail(api):
    run_id = uuid.uuid4()

    assert assert_error(api.get(f"/api/runs/{run_id}"), 404) == f"Run {run_id} not found"


def test_an_unknown_workflow_is_a_detail(api):
    assert assert_error(api.get("/api/workflows/missing"), 404) == "Workflow missing not found"


def test_an_unknown_job_is_a_detail(api):
    assert assert_error(api.get("/api/cron/jobs/missing"), 404) == "Job missing not found"


def test_an_unknown_api_path_is_a_detail(api):
    detail = assert_error(api.get("/api/no-such-endpoint"), 404)

    assert "/api/no-such-endpoint" in detail


def test_an_unknown_path_outside_the_api_keeps_the_stock_page(client, db):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_disallowed_host_is_a_detail(api):
    assert_error(api.get("/api/workflows", HTTP_HOST="not-an-allowed-host.example"), 400)


def test_a_server_error_under_the_api_is_a_detail(rf):
    # Reached only through a bug, so the configured handler is called the way Django calls it.
    handler = get_resolver().resolve_error_handler(500)

    response = handler(rf.get("/api/workflows"))

    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Internal server error"}


def test_a_nul_character_in_a_workflow_id_is_a_detail(api):
    assert_error(api.get("/api/workflows/a%00b"), 404)


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/cron/jobs/a%00b"), ("post", "/api/cron/jobs/a%00b/pause"), ("get", "/api/cron/jobs/a%00b/runs")],
)
def test_a_nul_character_in_a_job_id_is_a_detail(api, method, path):
    assert_error(getattr(api, method)(path), 404)


def test_someone_elses_workflow_is_a_detail(client_for, bob, workflow):
    assert_error(client_for(bob).get(f"/api/workflows/{workflow.workflow_id}"), 403)


def test_a_staff_only_endpoint_is_a_detail(api):
    assert_error(api.get("/api/cron/jobs/all"), 403)


def test_a_body_that_is_not_json_is_a_detail(api):
    detail = assert_error(api.post("/api/workflows", "{not json", content_type="application/json"), 400)

    assert detail.startswith("Request body is not valid JSON")


def test_a_body_of_the_wrong_media_type_is_a_detail(api):
    assert_error(api.post("/api/workflows", {"workflow_id": "x"}), 415)  # multipart form


def test_an_unacceptable_accept_header_is_a_detail(api):
    assert_error(api.get("/api/workflows", HTTP_ACCEPT="text/html"), 406)


def test_several_field_errors_are_one_detail_naming_each_field(api):
    detail = assert_error(api.post("/api/workflows", {"name": 7}, format="json"), 400)

    assert "workflow_id: This field is required." in detail
    assert "name: must be a string." in detail
    assert "steps: This field is required." in detail


def test_a_body_that_is_not_an_object_is_a_detail(api):
    assert_error(api.post("/api/workflows", [1, 2], format="json"), 400)


def test_a_conflict_is_a_detail(api, workflow):
    created = api.post(
        "/api/cron/jobs/cron",
        {"job_id": "nightly", "workflow_id": workflow.workflow_id, "input": "x", "cron_expression": "0 9 * * *"},
        format="json",
    )
    assert created.status_code == 200, created.content

    assert_error(api.delete(f"/api/workflows/{workflow.workflow_id}"), 409)


def test_an_oversized_body_is_a_detail(api, settings):
    body = '{"workflow_id": "big", "steps": [], "name": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'

    response = api.post("/api/workflows", body, content_type="application/json")

    assert response.status_code in (400, 413)
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/cron/jobs/cron"),
        ("post", "/api/cron/jobs/interval"),
        ("get", "/api/cron/jobs/all"),
        ("post", "/api/cron/jobs/some-job/trigger"),
        ("post", "/api/workflows"),
        ("post", "/api/workflows/some-workflow/run"),
        ("get", "/api/runs/some-run"),
    ],
)
def test_every_endpoint_answers_401_as_a_detail(client_for, db, method, path):
    assert_error(getattr(client_for(), method)(path, {}, format="json"), 401)


def test_a_refused_login_is_a_detail(client_for, alice):
    assert_error(client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "x"}, format="json"), 401)


def test_a_valid_token_does_not_hide_a_404(client_for, alice):
    assert_error(client_for(token=access_token(alice)).get(f"/api/runs/{uuid.uuid4()}"), 404)
