"""Operators find jobs and runs by tag in the admin, and see a job's tags and metadata on its page."""

import pytest

from cronjobs import schedules, services
from workflows.admin import TAGS_OFFERED
from workflows.runs import run_enqueue
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db

STEPS = [{"type": "python", "callable": "echo"}]


def make_job(workflow, job_id: str, tags: list[str], metadata: dict | None = None):
    return services.job_upsert(
        caller=workflow.owner,
        job_id=job_id,
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="x",
        spec=schedules.cron_spec(expression="0 3 * * *"),
        tags=tags,
        metadata=metadata,
    )


def shown(response) -> set[str]:
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


def offered(response) -> list[str]:
    """The tags the sidebar's tag filter offers."""
    (spec,) = [spec for spec in response.context["cl"].filter_specs if spec.title == "tag"]
    return [value for value, _ in spec.lookup_choices]


@pytest.fixture
def jobs(workflow, bob, make_workflow):
    bobs = make_workflow(bob, "bob-workflow")
    return [
        make_job(workflow, "nightly", ["video", "daily"], {"team": "growth"}),
        make_job(workflow, "hourly", ["video"]),
        make_job(bobs, "bobs", ["daily"]),
        make_job(bobs, "plain", []),
    ]


def test_the_job_list_offers_the_tags_in_use_and_filters_by_one(admin_client, jobs):
    everything = admin_client.get("/admin/cronjobs/cronjob/")
    assert offered(everything) == ["daily", "video"]
    assert 'href="?tag=video"' in everything.content.decode()

    assert shown(admin_client.get("/admin/cronjobs/cronjob/", {"tag": "video"})) == {"nightly", "hourly"}
    assert shown(admin_client.get("/admin/cronjobs/cronjob/", {"tag": "daily"})) == {"nightly", "bobs"}


def test_the_tag_filter_offers_at_most_fifty_tags_yet_filters_by_any(admin_client, workflow):
    tags = [f"tag-{n:03}" for n in range(TAGS_OFFERED + 5)]
    for n in range(0, len(tags), 10):
        make_job(workflow, f"job-{n}", tags[n : n + 10])

    response = admin_client.get("/admin/cronjobs/cronjob/")
    assert offered(response) == tags[:TAGS_OFFERED]

    last = admin_client.get("/admin/cronjobs/cronjob/", {"tag": tags[-1]})
    assert shown(last) == {"job-50"}
    assert tags[-1] in offered(last)


def test_a_tag_no_job_has_lists_no_job(admin_client, jobs):
    assert shown(admin_client.get("/admin/cronjobs/cronjob/", {"tag": "weekly"})) == set()
    assert shown(admin_client.get("/admin/cronjobs/cronjob/", {"tag": "not a tag"})) == set()


def test_a_jobs_page_shows_its_tags_and_metadata_read_only(admin_client, jobs):
    response = admin_client.get(f"/admin/cronjobs/cronjob/{jobs[0].pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "&quot;video&quot;, &quot;daily&quot;" in page
    assert "&quot;team&quot;: &quot;growth&quot;" in page
    assert 'name="tags"' not in page and 'name="metadata"' not in page


def test_the_run_list_filters_by_the_tags_of_a_runs_job_or_of_its_workflow(admin_client, jobs, alice):
    tagged = workflow_save(owner=alice, workflow_id="tagged", name="", steps=STEPS, tags=["video"])
    plain = alice.workflows.get(workflow_id="video-automation-workflow")

    def record(workflow, job=None) -> str:
        return str(run_enqueue(workflow=workflow, owner=workflow.owner, job=job, trigger="manual", input_text="x").id)

    nightly, hourly, bobs = record(plain, jobs[0]), record(plain, jobs[1]), record(jobs[2].workflow, jobs[2])
    loose_tagged, loose_plain = record(tagged), record(plain)

    def run_ids(response) -> set[str]:
        assert response.status_code == 200
        return {str(run.id) for run in response.context["cl"].result_list}

    everything = admin_client.get("/admin/workflows/run/")
    assert offered(everything) == ["daily", "video"]
    assert run_ids(everything) == {nightly, hourly, bobs, loose_tagged, loose_plain}
    assert run_ids(admin_client.get("/admin/workflows/run/", {"tag": "video"})) == {nightly, hourly, loose_tagged}
    assert run_ids(admin_client.get("/admin/workflows/run/", {"tag": "daily"})) == {nightly, bobs}
    assert run_ids(admin_client.get("/admin/workflows/run/", {"tag": "weekly"})) == set()
