"""Concurrent requests on real PostgreSQL: each one is answered with a 2xx or a 4xx, never a 500,
and what is left is consistent (one job per id, one PeriodicTask per job)."""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from cronjobs import schedules, services
from cronjobs.models import CronJob
from tests.conftest import ECHO_STEPS
from workflows.models import Workflow
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(count: int, call: Callable[[int], int]) -> list[int]:
    """Run ``call(i)`` in ``count`` threads released together; their status codes."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def users_with_workflows(make_user, prefix: str, count: int) -> list:
    """``count`` users, each owning the workflow ``wf-<username>``."""
    users = [make_user(f"{prefix}-{i}") for i in range(count)]
    for user in users:
        workflow_save(owner=user, workflow_id=f"wf-{user.username}", name="", steps=ECHO_STEPS)
    return users


def test_concurrent_creates_of_one_id_by_its_owner_replace_each_other(client_for, alice):
    workflow_save(owner=alice, workflow_id="wf", name="", steps=ECHO_STEPS)
    clients = [client_for(alice) for _ in range(6)]

    statuses = at_once(
        6,
        lambda i: (
            clients[i]
            .post("/api/cron/jobs/interval", {"job_id": "same", "workflow_id": "wf", "seconds": 60 + i}, format="json")
            .status_code
        ),
    )

    assert statuses == [200] * 6
    assert CronJob.objects.filter(job_id="same").count() == 1
    assert PeriodicTask.objects.filter(name="same").count() == 1


def test_concurrent_creates_of_one_id_by_different_users_give_it_to_one(client_for, make_user):
    users = users_with_workflows(make_user, "racer", 6)

    statuses = at_once(
        6,
        lambda i: (
            client_for(users[i])
            .post(
                "/api/cron/jobs/interval",
                {"job_id": "contested", "workflow_id": f"wf-racer-{i}", "seconds": 60},
                format="json",
            )
            .status_code
        ),
    )

    assert Counter(statuses) == {200: 1, 403: 5}
    job = CronJob.objects.get(job_id="contested")
    assert job.owner == users[statuses.index(200)]
    assert PeriodicTask.objects.filter(name="contested").count() == 1


def test_concurrent_first_uses_of_a_schedule_do_not_break_later_ones(client_for, make_user):
    users = users_with_workflows(make_user, "early", 6)

    statuses = at_once(
        6,
        lambda i: (
            client_for(users[i])
            .post(
                "/api/cron/jobs/cron",
                {"job_id": f"at-seven-{i}", "workflow_id": f"wf-early-{i}", "cron_expression": "7 7 * * *"},
                format="json",
            )
            .status_code
        ),
    )
    later = client_for(users[0]).post(
        "/api/cron/jobs/cron",
        {"job_id": "later", "workflow_id": "wf-early-0", "cron_expression": "7 7 * * *"},
        format="json",
    )

    assert statuses == [200] * 6
    assert later.status_code == 200, later.json()


def test_it_reuses_the_oldest_of_duplicated_schedule_rows(api, workflow):
    # What two first requests could leave behind: the schedule tables have no unique constraint.
    first = IntervalSchedule.objects.create(every=4321, period=IntervalSchedule.SECONDS)
    IntervalSchedule.objects.create(every=4321, period=IntervalSchedule.SECONDS)
    fields = dict(minute="7", hour="7", day_of_month="*", month_of_year="*", day_of_week="*", timezone="UTC")
    first_crontab = CrontabSchedule.objects.create(**fields)
    CrontabSchedule.objects.create(**fields)

    interval = api.post(
        "/api/cron/jobs/interval",
        {"job_id": "dup-interval", "workflow_id": workflow.workflow_id, "seconds": 4321},
        format="json",
    )
    cron = api.post(
        "/api/cron/jobs/cron",
        {"job_id": "dup-cron", "workflow_id": workflow.workflow_id, "cron_expression": "7 7 * * *"},
        format="json",
    )

    assert (interval.status_code, cron.status_code) == (200, 200)
    assert CronJob.objects.get(job_id="dup-interval").periodic_task.interval == first
    assert CronJob.objects.get(job_id="dup-cron").periodic_task.crontab == first_crontab


def test_pausing_while_the_job_is_being_replaced_never_fails(client_for, alice):
    workflow_save(owner=alice, workflow_id="wf", name="", steps=ECHO_STEPS)
    client = client_for(alice)
    client.post("/api/cron/jobs/interval", {"job_id": "busy", "workflow_id": "wf", "seconds": 60}, format="json")

    for round_ in range(5):
        replace_or_pause = at_once(
            2,
            lambda i, round_=round_: (
                client_for(alice)
                .post(
                    "/api/cron/jobs/interval",
                    {"job_id": "busy", "workflow_id": "wf", "seconds": 61 + round_},
                    format="json",
                )
                .status_code
                if i == 0
                else client_for(alice).post("/api/cron/jobs/busy/pause").status_code
            ),
        )
        assert replace_or_pause == [200, 200]
    task = CronJob.objects.get(job_id="busy").periodic_task
    assert task.interval is not None


def test_deleting_a_workflow_while_a_job_is_created_for_it_stays_consistent(client_for, alice):
    client = client_for(alice)
    for round_ in range(5):
        workflow_save(owner=alice, workflow_id="short-lived", name="", steps=ECHO_STEPS)

        create, delete = at_once(
            2,
            lambda i, round_=round_: (
                client_for(alice)
                .post(
                    "/api/cron/jobs/interval",
                    {"job_id": f"job-{round_}", "workflow_id": "short-lived", "seconds": 60},
                    format="json",
                )
                .status_code
                if i == 0
                else client_for(alice).delete("/api/workflows/short-lived").status_code
            ),
        )

        # Either the job got in first (the delete is refused) or the workflow was gone first.
        assert (create, delete) in {(200, 409), (404, 200)}
        if create == 200:
            assert Workflow.objects.filter(workflow_id="short-lived").exists()
            client.delete(f"/api/cron/jobs/job-{round_}")
            client.delete("/api/workflows/short-lived")


def test_concurrent_first_saves_of_one_workflow_id_by_its_owner_replace_each_other(client_for, alice):
    statuses = at_once(
        6,
        lambda i: (
            client_for(alice)
            .post("/api/workflows", {"workflow_id": "fresh", "name": f"take {i}", "steps": ECHO_STEPS}, format="json")
            .status_code
        ),
    )

    assert statuses == [200] * 6
    assert Workflow.objects.filter(workflow_id="fresh").count() == 1


def test_a_job_write_does_not_wait_for_runs_being_committed_for_the_same_owner(alice, workflow):
    """Committing runs checks their workflow and owner rows with KEY SHARE locks (PostgreSQL's
    foreign-key checks, which Django defers to the commit). A job write for the same owner must not
    queue behind them: with the scheduler holding one of the rows and the write the other, each
    waited for the other (a deadlock, seen under load)."""
    committing = threading.Event()
    release = threading.Event()

    def scheduler_commit() -> None:
        # What a beat's commit of new runs holds for a moment: KEY SHARE on the workflow and owner.
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for model, pk in ((Workflow, workflow.pk), (get_user_model(), alice.pk)):
                        cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s FOR KEY SHARE", [pk])
                committing.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=scheduler_commit)
    holder.start()
    try:
        assert committing.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # a wait here fails the test
            job = services.job_upsert(
                caller=alice,
                job_id="written-meanwhile",
                workflow_id=workflow.workflow_id,
                user_id=None,
                input_text="",
                spec=schedules.interval_spec(seconds=30),
            )
    finally:
        release.set()
        holder.join()

    assert CronJob.objects.get(job_id="written-meanwhile").pk == job.pk
