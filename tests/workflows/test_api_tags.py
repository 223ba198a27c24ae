"""Workflows take tags and metadata, as jobs do: kept and shown as given, replaced with the workflow,
refused with a 400 that changes nothing."""

import pytest

from tests.cronjobs.helpers import assert_refused
from tests.snapshots import snapshot
from workflows.models import WorkflowTag

pytestmark = pytest.mark.django_db

STEPS = [{"type": "python", "callable": "echo"}]


def save(api, **fields):
    return api.post("/api/workflows", {"workflow_id": "wf-1", "steps": STEPS, **fields}, format="json")


def tag_rows() -> set[str]:
    return set(WorkflowTag.objects.filter(workflow__workflow_id="wf-1").values_list("tag", flat=True))


def test_a_workflow_keeps_its_tags_and_metadata_and_shows_them_everywhere(api):
    metadata = {"team": "growth", "limits": {"daily": 3}}

    response = save(api, tags=["video", "team:growth", "video"], metadata=metadata)

    assert response.status_code == 200, response.json()
    saved = response.json()["workflow"]
    assert (saved["tags"], saved["metadata"]) == (["video", "team:growth"], metadata)
    one = api.get("/api/workflows/wf-1").json()["workflow"]
    (listed,) = api.get("/api/workflows").json()["workflows"]
    for workflow in (one, listed):
        assert (workflow["tags"], workflow["metadata"]) == (["video", "team:growth"], metadata)
    assert tag_rows() == {"video", "team:growth"}


def test_a_workflow_without_them_has_none(api):
    workflow = save(api).json()["workflow"]

    assert (workflow["tags"], workflow["metadata"]) == ([], {})
    assert tag_rows() == set()


def test_replacing_a_workflow_replaces_its_tags_and_metadata(api):
    save(api, tags=["video", "daily"], metadata={"team": "growth"})

    changed = save(api, tags=["daily", "weekly"], metadata={"team": "ops"}).json()["workflow"]
    assert (changed["tags"], changed["metadata"]) == (["daily", "weekly"], {"team": "ops"})
    assert tag_rows() == {"daily", "weekly"}

    cleared = save(api).json()["workflow"]
    assert (cleared["tags"], cleared["metadata"]) == ([], {})
    assert tag_rows() == set()


@pytest.mark.parametrize(
    "fields, detail",
    [
        ({"tags": [f"t{n}" for n in range(11)]}, "tags: 11 tags given; at most 10 are allowed"),
        (
            {"tags": ["a/b"]},
            "tags: \"a/b\" is not a valid tag: each tag is 1-40 characters of letters, digits, '_', '-', '.' or ':'",
        ),
        ({"metadata": "team=growth"}, 'metadata: must be a JSON object, like {"team": "growth"}'),
        ({"metadata": {"a": "x" * 5000}}, "metadata: is 5008 bytes as JSON; the limit is 4096 bytes"),
        (
            {"metadata": {"1": {"2": {"3": {"4": {"5": {}}}}}}},
            "metadata: is nested more than 5 levels deep (the object itself is level 1); flatten it",
        ),
    ],
    ids=["eleven tags", "slash", "metadata a string", "metadata too big", "metadata too deep"],
)
def test_bad_tags_or_metadata_are_refused_and_nothing_changes(api, fields, detail):
    save(api, tags=["video"], metadata={"team": "growth"})
    before = snapshot()

    assert_refused(save(api, **fields), 400, detail)
    assert_refused(save(api, workflow_id="wf-2", **fields), 400, detail)

    assert snapshot() == before
    assert tag_rows() == {"video"}
