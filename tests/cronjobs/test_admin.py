"""Operators see and steer jobs in the admin; its actions go through the same services as the API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from cronjobs import schedules, services
from cronjobs.models import CronJob
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(workflow, make_job):
    return make_job(workflow, schedules.cron_spec(expression="0 3 * * *"), "nightly")


@pytest.fixture
def other_job(workflow, make_job):
    return make_job(workflow, schedules.interval_spec(seconds=10), "every-ten-seconds")


START = datetime(2025, 1, 1, tzinfo=UTC)


def make_runs(job, count: int, **fields) -> list[Run]:
    """``count`` runs of ``job`` ten seconds apart, oldest first."""
    runs = Run.objects.bulk_create(
        Run(
            job=job,
            workflow_id=job.workflow_id,
            owner_id=job.owner_id,
            trigger=Run.Trigger.SCHEDULE,
            scheduled_for=START + timedelta(seconds=10 * i),
            **fields,
        )
        for i in range(count)
    )
    # created_at is set on insert; pinning it makes "newest" independent of insert timing.
    for i, run in enumerate(runs):
        run.created_at = START + timedelta(seconds=10 * i)
    Run.objects.bulk_update(runs, ["created_at"])
    return runs


def run_queries(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if '"workflows_run"' in query["sql"]]


def test_the_job_list_filters_and_searches(admin_client, job):
    response = admin_client.get("/admin/cronjobs/cronjob/", {"paused__exact": "0", "q": "alice-uuid"})

    assert response.status_code == 200
    assert "nightly" in response.content.decode()


def test_a_jobs_page_shows_its_runs(admin_client, job, alice):
    services.job_trigger(user=alice, job_id="nightly")
    run = Run.objects.get(job=job)

    response = admin_client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/")

    assert response.status_code == 200
    assert str(run.id) in response.content.decode()


def test_a_jobs_page_shows_its_newest_runs_and_links_to_all_of_them(admin_client, job):
    runs = make_runs(job, 25)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert [str(run.id) in page for run in runs] == [False] * 5 + [True] * 20
    assert f'href="/admin/workflows/run/{runs[-1].id}/change/"' in page
    assert page.index(str(runs[-1].id)) < page.index(str(runs[5].id))  # newest first
    assert f'<a href="/admin/workflows/run/?job__id__exact={job.pk}">all 25 runs</a>' in page
    # One query for the runs shown, one for the count, however many runs the job has.
    assert len(run_queries(queries)) == 2


def test_a_jobs_page_with_few_runs_counts_them_without_asking_the_database(admin_client, job):
    make_runs(job, 3)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/")

    assert "all 3 runs</a>" in response.content.decode()
    assert len(run_queries(queries)) == 1


def test_a_staff_member_who_may_not_see_runs_does_not_see_them_on_the_jobs_page(client, operator, job):
    make_runs(job, 1)
    operator.user_permissions.add(Permission.objects.get(codename="view_cronjob"))
    client.force_login(operator)

    response = client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/")

    assert response.status_code == 200
    assert "recent_runs" not in response.content.decode()


def test_the_all_runs_link_lists_only_that_jobs_runs(admin_client, job, other_job, alice, workflow):
    runs = make_runs(job, 25)
    others = make_runs(other_job, 3)
    loose = Run.objects.create(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL)

    response = admin_client.get("/admin/workflows/run/", {"job__id__exact": job.pk})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 25
    page = response.content.decode()
    assert all(str(run.id) in page for run in runs)
    assert not any(str(run.id) in page for run in [*others, loose])


def test_the_run_list_filtered_by_an_unknown_job_is_empty(admin_client, job):
    make_runs(job, 2)

    response = admin_client.get("/admin/workflows/run/", {"job__id__exact": job.pk + 1000})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_the_run_list_refuses_a_malformed_job_filter(admin_client, job):
    response = admin_client.get("/admin/workflows/run/", {"job__id__exact": "nightly"})

    assert response.status_code == 302  # the admin's "invalid filter" redirect
    assert response["Location"].endswith("?e=1")


def test_a_runs_error_is_escaped_and_shortened_on_the_jobs_page(admin_client, job):
    make_runs(job, 1, status=Run.Status.FAILED, error="<script>alert('x')</script>" + "y" * 500)

    page = admin_client.get(f"/admin/cronjobs/cronjob/{job.pk}/change/").content.decode()

    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page
    assert "y" * 70 not in page


def test_the_run_list_costs_the_same_queries_for_one_run_or_many(admin_client, job, other_job):
    make_runs(job, 1)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get("/admin/workflows/run/").status_code == 200

    make_runs(other_job, 30)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get("/admin/workflows/run/").status_code == 200

    assert len(many) == len(few)


def test_the_pause_and_resume_actions_flip_the_periodic_task(admin_client, job):
    admin_client.post("/admin/cronjobs/cronjob/", {"action": "pause_jobs", "_selected_action": [job.pk]}, follow=True)
    assert CronJob.objects.get(pk=job.pk).paused is True
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled is False

    admin_client.post("/admin/cronjobs/cronjob/", {"action": "resume_jobs", "_selected_action": [job.pk]}, follow=True)
    assert CronJob.objects.get(pk=job.pk).paused is False
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled is True


def test_the_run_now_action_queues_a_manual_run(admin_client, job):
    admin_client.post("/admin/cronjobs/cronjob/", {"action": "trigger_jobs", "_selected_action": [job.pk]})

    assert Run.objects.get(job=job).trigger == Run.Trigger.MANUAL


def test_deleting_a_job_in_the_admin_removes_its_periodic_task(admin_client, job):
    admin_client.post(f"/admin/cronjobs/cronjob/{job.pk}/delete/", {"post": "yes"})

    assert not CronJob.objects.filter(pk=job.pk).exists()
    assert not PeriodicTask.objects.filter(pk=job.periodic_task_id).exists()


def test_runs_are_read_only_in_the_admin(admin_client, job, alice):
    services.job_trigger(user=alice, job_id="nightly")
    run = Run.objects.get(job=job)

    assert admin_client.get("/admin/workflows/run/").status_code == 200
    assert admin_client.get(f"/admin/workflows/run/{run.id}/change/").status_code == 200
    admin_client.post(f"/admin/workflows/run/{run.id}/change/", {"status": "succeeded"})
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
