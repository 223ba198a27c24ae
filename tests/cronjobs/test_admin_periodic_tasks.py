"""From django-celery-beat's periodic tasks in the admin, each job's task links to the job."""

import re

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from cronjobs import schedules

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(workflow, make_job):
    return make_job(workflow, schedules.cron_spec(expression="0 3 * * *"), "nightly")


@pytest.fixture
def operators_task(db):
    """A task an operator added by hand: no job behind it."""
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(name="cleanup", task="celery.backend_cleanup", interval=every)


def test_the_task_list_links_each_job_task_to_its_job(admin_client, job, operators_task):
    response = admin_client.get("/admin/django_celery_beat/periodictask/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f'<a href="/admin/cronjobs/cronjob/{job.pk}/change/">nightly</a>' in page
    assert "cleanup" in page  # tasks without a job are still listed


def test_the_task_page_links_to_its_job(admin_client, job):
    response = admin_client.get(f"/admin/django_celery_beat/periodictask/{job.periodic_task_id}/change/")

    assert response.status_code == 200
    assert f'<a href="/admin/cronjobs/cronjob/{job.pk}/change/">nightly</a>' in response.content.decode()


def test_a_task_without_a_job_shows_no_link(admin_client, operators_task):
    response = admin_client.get(f"/admin/django_celery_beat/periodictask/{operators_task.pk}/change/")

    assert response.status_code == 200
    # The sidebar links the job list; no link goes to a job's page.
    assert re.search(r'href="/admin/cronjobs/cronjob/\d+/change/"', response.content.decode()) is None


def test_the_job_list_filters_by_owner(admin_client, job, make_workflow, make_job, bob):
    bobs = make_job(make_workflow(bob, "bob-workflow"), schedules.cron_spec(expression="0 4 * * *"), "bobs-job")

    response = admin_client.get("/admin/cronjobs/cronjob/", {"owner__id__exact": bob.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert bobs.job_id in page and "nightly" not in page
