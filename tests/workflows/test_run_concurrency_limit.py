"""A user's runs beyond their concurrency limit wait, queued, and are handed over as earlier ones end;
another user's runs are not held back by that backlog."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cronjobs import schedules
from cronjobs.claims import claim_due_jobs
from cronjobs.models import CronJob
from workflows import dispatch
from workflows.models import Run, RunLimit
from workflows.runs import run_enqueue, run_execute

from .conftest import queued_run_ids

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.RUN_MAX_CONCURRENT_PER_USER = LIMIT


def queued(workflow, count: int) -> list[Run]:
    """Runs committed and not yet handed over, as beat's claim or an API call leaves them."""
    return [
        Run.objects.create(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text=str(i))
        for i in range(count)
    ]


def sent_ids(broker) -> list[str]:
    return queued_run_ids(broker)


def test_runs_beyond_the_limit_are_held_queued_and_say_why(db, workflow, broker):
    runs = queued(workflow, 5)

    handed_over = dispatch.runs_dispatch([run.id for run in runs])

    assert handed_over == [run.id for run in runs[:LIMIT]]  # oldest first
    assert sorted(sent_ids(broker)) == sorted(str(run.id) for run in runs[:LIMIT])
    for run in runs:
        run.refresh_from_db()
    assert [run.status for run in runs] == [Run.Status.QUEUED] * 5
    assert [run.published_at is not None for run in runs] == [True] * 3 + [False] * 2
    assert [run.wait_reason for run in runs] == [""] * 3 + [Run.WaitReason.CONCURRENCY_LIMIT] * 2


def test_another_users_run_is_handed_over_whatever_the_first_users_backlog(db, workflow, make_workflow, bob, broker):
    dispatch.runs_dispatch([run.id for run in queued(workflow, 20)])
    [bobs] = queued(make_workflow(bob, "bobs-workflow"), 1)

    assert dispatch.runs_dispatch([bobs.id]) == [bobs.id]

    assert str(bobs.id) in sent_ids(broker)
    assert len(sent_ids(broker)) == LIMIT + 1  # alice's backlog stays in the database, not the queue


def test_a_finished_run_hands_over_the_oldest_held_one(db, workflow, broker):
    runs = queued(workflow, 5)
    dispatch.runs_dispatch([run.id for run in runs])
    broker.delete("celery")

    run_execute(run_id=runs[0].id)  # what the worker does with the first message

    assert sent_ids(broker) == [str(runs[3].id)]
    runs[3].refresh_from_db()
    assert runs[3].published_at is not None and runs[3].wait_reason == ""
    runs[4].refresh_from_db()
    assert runs[4].published_at is None and runs[4].wait_reason == Run.WaitReason.CONCURRENCY_LIMIT


def test_every_held_run_runs_once_as_earlier_ones_end(db, workflow, broker):
    runs = queued(workflow, 8)
    dispatch.runs_dispatch([run.id for run in runs])
    executed = []

    # Play the worker: take each message, run it; each run ending hands over the next held one.
    while messages := sent_ids(broker):
        broker.delete("celery")
        assert len(messages) <= LIMIT
        for run_id in messages:
            assert Run.objects.filter(dispatch.IN_FLIGHT, owner=workflow.owner).count() <= LIMIT
            run_execute(run_id=run_id)
            executed.append(run_id)

    assert sorted(executed) == sorted(str(run.id) for run in runs)  # none dropped, none twice
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.SUCCEEDED}


def test_an_operator_can_raise_or_lower_one_users_limit(db, workflow, broker):
    RunLimit.objects.create(owner=workflow.owner, max_concurrent_runs=5)
    assert len(dispatch.runs_dispatch([run.id for run in queued(workflow, 7)])) == 5

    RunLimit.objects.filter(owner=workflow.owner).update(max_concurrent_runs=1)
    # Those five ended.
    Run.objects.filter(published_at__isnull=False).update(status=Run.Status.SUCCEEDED, finished_at=timezone.now())
    assert dispatch.runs_release([workflow.owner.pk]) == 1


def test_the_sweeper_hands_over_held_runs_once_there_is_room(db, workflow, broker):
    runs = queued(workflow, 4)
    dispatch.runs_dispatch([run.id for run in runs])
    assert dispatch.runs_release() == 0  # no room: three are handed over and unfinished

    # One ends without its worker handing anything over (say the reaper failed it as lost).
    Run.objects.filter(id=runs[0].id).update(
        status=Run.Status.FAILED, reason=Run.Reason.LOST, finished_at=timezone.now()
    )

    assert dispatch.runs_release() == 1
    runs[3].refresh_from_db()
    assert runs[3].published_at is not None


def test_the_run_object_says_why_it_waits(db, workflow, api, broker):
    runs = queued(workflow, LIMIT + 1)
    dispatch.runs_dispatch([run.id for run in runs])

    held = api.get(f"/api/runs/{runs[-1].id}").json()["run"]
    handed_over = api.get(f"/api/runs/{runs[0].id}").json()["run"]

    assert (held["status"], held["wait_reason"]) == ("queued", "concurrency_limit")
    assert (handed_over["status"], handed_over["wait_reason"]) == ("queued", None)


def test_a_manual_run_over_the_limit_is_accepted_and_held(transactional_db, workflow, api, broker):
    dispatch.runs_dispatch([run.id for run in queued(workflow, LIMIT)])

    response = api.post(f"/api/workflows/{workflow.workflow_id}/run", {"input": "x"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["run"]["wait_reason"] == "concurrency_limit"
    assert len(sent_ids(broker)) == LIMIT


# SQLite's test database (in memory, one cache shared by the threads) refuses a second writer at
# once ("database table is locked") instead of making it wait, as the file a deployment uses does.
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row and advisory locks are PostgreSQL's; SQLite runs one writer at a time",
)
def test_two_dispatchers_at_once_never_hand_over_more_than_the_limit(transactional_db, workflow, broker):
    runs = queued(workflow, 40)
    halves = [[run.id for run in runs[0::2]], [run.id for run in runs[1::2]]]
    handed_over: list = []
    errors: list[Exception] = []
    start = threading.Barrier(2)

    def dispatcher(ids):
        start.wait()
        try:
            handed_over.extend(dispatch.runs_dispatch(ids))
        except Exception as exc:  # a dispatcher that failed would leave the limit untested
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(ids,)) for ids in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(handed_over) == LIMIT
    assert Run.objects.filter(published_at__isnull=False).count() == LIMIT
    assert len(sent_ids(broker)) == LIMIT


def test_a_run_costs_two_statements(db, workflow, broker, django_assert_max_num_queries):
    [run] = queued(workflow, 1)
    dispatch.runs_dispatch([run.id])

    # The claim (which reads what the run needs) and the result (which says whether the owner has
    # runs held back): nothing else, whatever the workflow's steps.
    with CaptureQueriesContext(connection) as queries:
        run_execute(run_id=run.id)

    assert len(queries) == 2, [query["sql"] for query in queries]
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED


def test_the_admin_says_why_a_run_waits_and_sets_a_users_limit(db, admin_client, workflow, broker):
    runs = queued(workflow, LIMIT + 1)
    dispatch.runs_dispatch([run.id for run in runs])

    page = admin_client.get(f"/admin/workflows/run/{runs[-1].pk}/change/").content.decode()
    assert f"Held back: {LIMIT} of {workflow.owner}&#x27;s runs are queued for a worker or running" in page
    listed = admin_client.get("/admin/workflows/run/?wait_reason__exact=concurrency_limit").content.decode()
    assert str(runs[-1].pk) in listed and str(runs[0].pk) not in listed

    response = admin_client.post(
        "/admin/workflows/runlimit/add/", {"owner": workflow.owner.pk, "max_concurrent_runs": LIMIT + 1}
    )

    assert response.status_code == 302
    assert dispatch.runs_release([workflow.owner.pk]) == 1
    runs[-1].refresh_from_db()
    assert runs[-1].wait_reason == "" and runs[-1].published_at is not None


def test_beat_hands_over_a_slots_runs_within_the_limit_and_holds_the_rest(db, workflow, make_job, broker):
    jobs = [make_job(workflow, schedules.interval_spec(seconds=60), job_id=f"job-{i}") for i in range(5)]
    slot = timezone.now() + timedelta(seconds=5)
    CronJob.objects.filter(pk__in=[job.pk for job in jobs]).update(next_fire_at=slot)

    claimed, handed_over = claim_due_jobs(timezone.now(), slot)  # claimed ahead of the slot

    assert claimed == 5 and len(handed_over) == LIMIT
    runs = Run.objects.filter(job__in=jobs)
    assert sorted(runs.values_list("published_at", flat=True).exclude(published_at=None)) == [slot] * LIMIT
    assert runs.filter(published_at=None, wait_reason=Run.WaitReason.CONCURRENCY_LIMIT).count() == 2


def test_a_held_run_is_not_handed_over_before_its_slot(db, workflow, make_job, broker):
    RunLimit.objects.create(owner=workflow.owner, max_concurrent_runs=1)
    jobs = [make_job(workflow, schedules.interval_spec(seconds=60), job_id=f"job-{i}") for i in range(2)]
    slot = timezone.now() + timedelta(seconds=30)
    CronJob.objects.filter(pk__in=[job.pk for job in jobs]).update(next_fire_at=slot)
    claim_due_jobs(timezone.now(), slot)
    Run.objects.filter(published_at=slot).update(status=Run.Status.SUCCEEDED, finished_at=timezone.now())

    assert dispatch.runs_release() == 0  # room, but its slot is still to come
    assert sent_ids(broker) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row and advisory locks are PostgreSQL's; SQLite runs one writer at a time",
)
def test_a_manual_run_of_a_job_beat_is_claiming_waits_for_the_claim_instead_of_deadlocking(
    transactional_db, workflow, make_job, broker
):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    claimed, errors = threading.Event(), []

    def beat_claim() -> None:
        # As claim_due_jobs does: the job's row first, then (a moment later) its owner's lock.
        try:
            with transaction.atomic():
                CronJob.objects.select_for_update().get(pk=job.pk)
                claimed.set()
                time.sleep(0.5)
                dispatch.admit([job.owner_id])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def trigger() -> None:
        claimed.wait(timeout=10)
        try:
            run_enqueue(workflow=workflow, owner=job.owner, job=job, trigger=Run.Trigger.MANUAL, input_text="")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat_claim), threading.Thread(target=trigger)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Run.objects.filter(job=job, trigger=Run.Trigger.MANUAL).count() == 1
