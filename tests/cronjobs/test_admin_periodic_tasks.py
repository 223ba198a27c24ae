"""django-celery-beat's periodic tasks in the admin: each job's task links to the job and is
read-only (an edit is refused, saying where the job is changed); operators' own tasks are added
and edited as with django-celery-beat."""

import re

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from cronjobs import schedules
from cronjobs.periodic_tasks import FIRE_TASK

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


def task_form(periodic_task: PeriodicTask, **changes) -> dict:
    """The periodic task form as the admin page posts it, with ``changes``."""
    task = periodic_task
    data = {
        "name": task.name,
        "regtask": "",
        "task": task.task,
        "description": task.description,
        "interval": task.interval_id or "",
        "crontab": task.crontab_id or "",
        "solar": "",
        "clocked": "",
        "args": task.args,
        "kwargs": task.kwargs,
        "headers": task.headers or "{}",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "expire_seconds": "",
    }
    if task.enabled:
        data["enabled"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_a_jobs_task_page_is_read_only_and_points_to_the_job(admin_client, job):
    response = admin_client.get(f"/admin/django_celery_beat/periodictask/{job.periodic_task_id}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' not in page and 'name="_save"' not in page  # every field read-only, no save
    [message] = messages_of(response)
    assert "read-only" in message
    assert f'<a href="/admin/cronjobs/cronjob/{job.pk}/change/">nightly</a>' in message


def test_an_edit_of_a_jobs_task_is_refused_with_a_message(admin_client, job):
    task = job.periodic_task
    url = f"/admin/django_celery_beat/periodictask/{task.pk}/change/"
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)

    response = admin_client.post(url, task_form(task, enabled=None, crontab="", interval=every.pk), follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert any(
        message.startswith("Not saved") and "/admin/cronjobs/cronjob/" in message for message in messages_of(response)
    )
    unchanged = PeriodicTask.objects.get(pk=task.pk)
    assert (unchanged.enabled, unchanged.crontab_id, unchanged.interval_id) == (True, task.crontab_id, None)


def test_a_jobs_task_cannot_be_deleted_here(admin_client, job):
    response = admin_client.post(
        f"/admin/django_celery_beat/periodictask/{job.periodic_task_id}/delete/", {"post": "yes"}
    )

    assert response.status_code == 403
    assert PeriodicTask.objects.filter(pk=job.periodic_task_id).exists()


@pytest.mark.parametrize("action", ["disable_tasks", "toggle_tasks"])
def test_bulk_actions_change_operators_tasks_and_leave_jobs_tasks_saying_so(admin_client, job, operators_task, action):
    response = admin_client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": action, "_selected_action": [job.periodic_task_id, operators_task.pk]},
        follow=True,
    )

    assert any(message.startswith("Left unchanged: 1 task(s) of jobs (nightly)") for message in messages_of(response))
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).enabled
    assert not PeriodicTask.objects.get(pk=operators_task.pk).enabled


def test_an_operator_adds_a_task_of_their_own(admin_client):
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    form = task_form(PeriodicTask(name="nightly-cleanup", task="celery.backend_cleanup", interval=every), args="[1]")

    response = admin_client.post("/admin/django_celery_beat/periodictask/add/", form)

    assert response.status_code == 302, response.content.decode()[-2000:]
    task = PeriodicTask.objects.get(name="nightly-cleanup")
    assert (task.task, task.interval_id, task.args, task.enabled) == ("celery.backend_cleanup", every.pk, "[1]", True)


def test_an_operator_edits_a_task_of_their_own(admin_client, operators_task):
    url = f"/admin/django_celery_beat/periodictask/{operators_task.pk}/change/"
    page = admin_client.get(url)
    assert 'name="name"' in page.content.decode() and messages_of(page) == []

    response = admin_client.post(url, task_form(operators_task, enabled=None, kwargs='{"n": 2}'))

    assert response.status_code == 302
    operators_task.refresh_from_db()
    assert (operators_task.enabled, operators_task.kwargs) == (False, '{"n": 2}')


def test_an_operators_task_may_not_fire_jobs(admin_client, operators_task):
    url = f"/admin/django_celery_beat/periodictask/{operators_task.pk}/change/"

    response = admin_client.post(url, task_form(operators_task, task=FIRE_TASK))

    assert response.status_code == 200
    assert "fires jobs" in response.content.decode()
    operators_task.refresh_from_db()
    assert operators_task.task == "celery.backend_cleanup"


def test_the_task_list_does_not_warn_that_tasks_are_not_sent(admin_client, operators_task):
    response = admin_client.get("/admin/django_celery_beat/periodictask/")

    assert "won't be dispatched" not in response.content.decode()


def test_a_schedule_a_job_uses_is_read_only(admin_client, job):
    url = f"/admin/django_celery_beat/crontabschedule/{job.periodic_task.crontab_id}/change/"

    page = admin_client.get(url)
    response = admin_client.post(url, {"minute": "5", "hour": "*", "day_of_week": "*", "day_of_month": "*"})

    assert page.status_code == 200 and 'name="minute"' not in page.content.decode()
    assert any("read-only" in message for message in messages_of(page))
    assert response.status_code == 403
    assert CrontabSchedule.objects.get(pk=job.periodic_task.crontab_id).minute == "0"


def test_an_operators_own_schedule_stays_editable(admin_client, operators_task):
    page = admin_client.get(f"/admin/django_celery_beat/intervalschedule/{operators_task.interval_id}/change/")

    assert page.status_code == 200 and 'name="every"' in page.content.decode()
