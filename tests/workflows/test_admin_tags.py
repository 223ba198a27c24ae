"""Operators edit a workflow's tags and metadata in the admin, under the API's rules, and find
workflows by tag."""

import json

import pytest

from tests.conftest import ECHO_STEPS
from workflows.models import Workflow, WorkflowTag
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db


def form(workflow: Workflow, **fields) -> dict:
    return {"name": workflow.name, "steps": json.dumps(ECHO_STEPS), "tags": "[]", "metadata": "{}", **fields}


def tag_rows(workflow: Workflow) -> set[str]:
    return set(WorkflowTag.objects.filter(workflow=workflow).values_list("tag", flat=True))


def test_the_admin_saves_tags_and_metadata_with_their_tag_rows(admin_client, alice):
    workflow = workflow_save(owner=alice, workflow_id="wf", name="", steps=ECHO_STEPS, tags=["old", "kept"])
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"

    response = admin_client.post(url, form(workflow, tags='["kept", "new", "new"]', metadata='{"team": "ops"}'))

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.tags, workflow.metadata) == (["kept", "new"], {"team": "ops"})
    assert tag_rows(workflow) == {"kept", "new"}


def test_a_workflow_added_in_the_admin_gets_its_tag_rows(admin_client, alice):
    response = admin_client.post(
        "/admin/workflows/workflow/add/",
        {"workflow_id": "added", "owner": alice.pk, "name": "", "steps": json.dumps(ECHO_STEPS), "tags": '["video"]'},
    )

    assert response.status_code == 302
    workflow = Workflow.objects.get(workflow_id="added")
    assert (workflow.tags, workflow.metadata, tag_rows(workflow)) == (["video"], {}, {"video"})


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"tags": '["a b"]'}, "is not a valid tag"),
        ({"tags": json.dumps([f"t{n}" for n in range(11)])}, "11 tags given; at most 10 are allowed"),
        ({"metadata": '["a"]'}, "must be a JSON object"),
        ({"metadata": json.dumps({"a": "x" * 5000})}, "is 5008 bytes as JSON; the limit is 4096 bytes"),
    ],
)
def test_the_admin_refuses_what_the_api_refuses(admin_client, alice, fields, error):
    workflow = workflow_save(owner=alice, workflow_id="wf", name="", steps=ECHO_STEPS, tags=["video"])

    response = admin_client.post(f"/admin/workflows/workflow/{workflow.pk}/change/", form(workflow, **fields))

    assert response.status_code == 200  # the form comes back with its error
    assert error in response.content.decode()
    workflow.refresh_from_db()
    assert (workflow.tags, workflow.metadata, tag_rows(workflow)) == (["video"], {}, {"video"})


def test_the_workflow_list_filters_by_tag(admin_client, alice, bob):
    workflow_save(owner=alice, workflow_id="both", name="", steps=ECHO_STEPS, tags=["video", "daily"])
    workflow_save(owner=bob, workflow_id="video-only", name="", steps=ECHO_STEPS, tags=["video"])
    workflow_save(owner=bob, workflow_id="none", name="", steps=ECHO_STEPS)

    def shown(**query) -> set[str]:
        response = admin_client.get("/admin/workflows/workflow/", query)
        assert response.status_code == 200
        return {workflow.workflow_id for workflow in response.context["cl"].result_list}

    assert shown() == {"both", "video-only", "none"}
    assert 'href="?tag=daily"' in admin_client.get("/admin/workflows/workflow/").content.decode()
    assert shown(tag="video") == {"both", "video-only"}
    assert shown(tag="daily") == {"both"}
    assert shown(tag="weekly") == set()
