"""/api/schema is the OpenAPI description of the API, /api/docs shows it; both match what the API sends.

The live check of every endpoint is tests/e2e/test_openapi_schemathesis.py; these hold the schema's
objects to the exact fields the views send, which a fuzzer cannot see (extra fields pass it).
"""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from cronjobs import services
from vingine.schema import JOB_ID_PATH_SCHEMA

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def properties(schema: dict, component: str) -> set[str]:
    return set(schema["components"]["schemas"][component]["properties"])


def test_the_schema_is_served_to_anyone(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    for path in ("/api/cron/jobs", "/api/cron/jobs/{job_id}/trigger", "/api/cron/preview", "/api/auth/token"):
        assert path in body["paths"]


def test_the_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn: a view whose body or answer the generator had to guess fails here.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_docs_page_uses_the_bundled_swagger_ui(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    page = response.content.decode()
    scripts = re.findall(r'src="([^"]+)"', page)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in scripts
    assert not [src for src in scripts if src.startswith(("http:", "https:", "//"))], scripts
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_every_operation_documents_its_errors_as_detail(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert "400" in errors or "401" in errors, (method, path)
            for response in errors.values():
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert properties(schema, "Error") == {"detail"}


def test_the_job_object_is_exactly_what_the_api_sends(api, schema, cron_job):
    job = api.get("/api/cron/jobs/daily-video-generation").json()["job"]

    assert set(job) == properties(schema, "Job")


def test_the_run_and_workflow_objects_are_exactly_what_the_api_sends(api, schema, cron_job, broker):
    run_id = api.post("/api/cron/jobs/daily-video-generation/trigger").json()["run_id"]

    assert set(api.get(f"/api/runs/{run_id}").json()["run"]) == properties(schema, "Run")
    workflow = api.get("/api/workflows/video-automation-workflow").json()["workflow"]
    assert set(workflow) == properties(schema, "Workflow")


def test_the_envelopes_are_exactly_what_the_api_sends(api, operator_api, schema, cron_job, broker):
    job = "/api/cron/jobs/daily-video-generation"
    answers = {
        "JobList": api.get("/api/cron/jobs"),
        "AllJobList": operator_api.get("/api/cron/jobs/all"),
        "JobOne": api.get(job),
        "JobRunList": api.get(f"{job}/runs"),
        "JobHistory": api.get(f"{job}/history"),
        "JobDone": api.post(f"{job}/pause"),
        "JobTriggered": api.post(f"{job}/trigger"),
        "Preview": api.post("/api/cron/preview", {"cron_expression": "@daily"}, format="json"),
        "WorkflowList": api.get("/api/workflows"),
        "WorkflowOne": api.get("/api/workflows/video-automation-workflow"),
    }
    for component, response in answers.items():
        assert response.status_code == 200, (component, response.content)
        assert set(response.json()) == properties(schema, component), component


def test_a_job_id_in_a_path_excludes_the_words_routed_elsewhere():
    pattern = re.compile(JOB_ID_PATH_SCHEMA["pattern"])

    for word in ("all", "cron", "interval", ".", ".."):
        assert not pattern.search(word), word
    for job_id in ("daily-video-generation", "preview", "all-hands", "a:b.c_d"):
        assert pattern.search(job_id), job_id
    assert services.RESERVED_JOB_IDS == {"all", "cron", "interval"}  # the words the pattern leaves out
