"""limit and offset on GET /api/workflows; total_workflows always counts them all."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def four_workflows(make_workflow, alice):
    return [make_workflow(alice, f"wf-{i}") for i in range(4)]


def test_a_page_of_workflows(api, four_workflows):
    body = api.get("/api/workflows?limit=2&offset=2").json()

    assert [w["workflow_id"] for w in body["workflows"]] == ["wf-2", "wf-3"]
    assert body["total_workflows"] == 4


def test_the_default_page_is_bounded(api, four_workflows, settings):
    settings.WORKFLOWS_PAGE_DEFAULT = 3

    body = api.get("/api/workflows").json()

    assert len(body["workflows"]) == 3 and body["total_workflows"] == 4


@pytest.mark.parametrize("query", ["limit=0", f"limit={settings.LIST_PAGE_MAX + 1}", "limit=x", "offset=-3"])
def test_bad_paging_is_refused(api, four_workflows, query):
    response = api.get(f"/api/workflows?{query}")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(query.split("=")[0] + " must be a whole number")
