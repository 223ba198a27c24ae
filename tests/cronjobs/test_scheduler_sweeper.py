"""The sweeper publishes queued runs whose publish was lost, and only those."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs.claims import claim_due_jobs
from tests.broker_messages import message_run_ids
from tests.cronjobs.helpers import fire_due_jobs
from vingine.celery import app
from workflows.dispatch import (
    EXECUTE_RUNS,
    RESEND_AFTER,
    RUNS_PER_MESSAGE,
    SWEEP_AFTER,
    messages_send,
    resend_stale,
    runs_dispatch,
    runs_messages,
    sweep_unpublished,
)
from workflows.models import Run

pytestmark = pytest.mark.django_db


def manual_run(workflow) -> Run:
    """A run committed by an API call whose process died before handing it over (the on_commit
    callback never ran)."""
    return Run.objects.create(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL)


def test_it_hands_over_a_run_committed_but_never_handed_over(workflow, broker):
    run = manual_run(workflow)
    Run.objects.filter(id=run.id).update(created_at=timezone.now() - SWEEP_AFTER - timedelta(seconds=1))

    assert sweep_unpublished(timezone.now()) == 1

    assert broker.run_ids() == [str(run.id)]
    assert Run.objects.get(id=run.id).published_at is not None
    assert sweep_unpublished(timezone.now()) == 0  # and only once


def test_it_leaves_a_run_that_is_still_on_its_way_out(workflow, broker):
    manual_run(workflow)

    assert sweep_unpublished(timezone.now()) == 0
    assert broker.messages() == []


def test_it_leaves_published_and_finished_runs(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    first = job.next_fire_at
    _, [published] = fire_due_jobs(first)
    runs_dispatch([published])
    fire_due_jobs(first + timedelta(seconds=10))  # skipped (overlap), so finished and never published
    assert Run.objects.filter(status=Run.Status.SKIPPED, published_at__isnull=True).count() == 1
    broker.clear()
    Run.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert sweep_unpublished(timezone.now()) == 0
    assert broker.messages() == []


def test_it_leaves_a_run_claimed_ahead_until_well_after_its_slot(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    slot = job.next_fire_at
    claim_time = slot - timedelta(seconds=5)
    _, [(_, run_id)] = claim_due_jobs(claim_time, slot)  # its beat holds the message until the slot
    Run.objects.filter(id=run_id).update(created_at=claim_time - SWEEP_AFTER * 2)  # committed long ago

    for now in (slot - timedelta(seconds=1), slot + SWEEP_AFTER - timedelta(seconds=1)):
        assert sweep_unpublished(now) == 0
        assert resend_stale(now) == 0  # its beat may still send it
    assert broker.messages() == []

    # Its beat died holding it: the sweeper sends it once the slot is SWEEP_AFTER past.
    assert resend_stale(slot + SWEEP_AFTER + timedelta(seconds=1)) == 1
    assert broker.run_ids() == [str(run_id)]


def test_it_sends_again_a_queued_run_whose_message_is_gone(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    _, [run_id] = fire_due_jobs(job.next_fire_at)
    runs_dispatch([run_id])
    broker.clear()  # the broker lost it (Redis restarted), or a worker that died holds it
    sent_at = timezone.now() - RESEND_AFTER - timedelta(seconds=1)
    Run.objects.filter(id=run_id).update(published_at=sent_at)

    assert resend_stale(timezone.now()) == 1

    assert broker.run_ids() == [str(run_id)]
    assert Run.objects.get(id=run_id).published_at > sent_at
    assert resend_stale(timezone.now()) == 0  # not again before RESEND_AFTER has passed once more


def test_it_does_not_resend_runs_still_waiting_in_the_queue(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    _, [waiting] = fire_due_jobs(job.next_fire_at)
    messages_send(runs_messages([waiting]))  # its message waits in the queue, behind a backlog
    Run.objects.filter(id=waiting).update(published_at=timezone.now() - RESEND_AFTER * 2)

    assert resend_stale(timezone.now()) == 0
    assert broker.run_ids() == [str(waiting)]


def manual_runs(workflow, count: int) -> list:
    return [manual_run(workflow).id for _ in range(count)]


def test_runs_sent_together_go_runs_per_message_to_a_message_in_their_order(workflow, broker):
    run_ids = manual_runs(workflow, 2 * RUNS_PER_MESSAGE + 3)

    messages_send(runs_messages(run_ids))

    sent = list(reversed(broker.messages()))  # the queue's list holds the newest first
    assert [message["headers"]["task"] for message in sent] == [EXECUTE_RUNS] * 3
    assert [len(message_run_ids(message)) for message in sent] == [RUNS_PER_MESSAGE, RUNS_PER_MESSAGE, 3]
    assert broker.run_ids() == [str(run_id) for run_id in run_ids]


def test_it_does_not_resend_runs_waiting_in_a_message_with_others(workflow, broker):
    run_ids = manual_runs(workflow, 3)
    messages_send(runs_messages(run_ids))
    Run.objects.filter(id__in=run_ids).update(published_at=timezone.now() - RESEND_AFTER * 2)

    assert resend_stale(timezone.now()) == 0
    assert broker.run_ids() == [str(run_id) for run_id in run_ids]


def test_it_does_not_resend_runs_of_a_message_a_worker_has_just_taken(workflow, broker):
    run_ids = manual_runs(workflow, 3)
    messages_send(runs_messages(run_ids))
    Run.objects.filter(id__in=run_ids).update(published_at=timezone.now() - RESEND_AFTER * 2)
    # What a worker does on taking a message with acks_late: off the queue, into the unacked hash,
    # stamped with when it was taken.
    with app.connection_for_read() as connection:
        message = connection.default_channel.basic_get(broker.queue)
        assert message is not None
        assert resend_stale(timezone.now()) == 0

        connection.default_channel.client.zadd(
            connection.default_channel.unacked_index_key, {message.delivery_tag: time.time() - 2 * RESEND_AFTER.seconds}
        )
        # Taken longer ago than RESEND_AFTER and still not acknowledged: its worker died.
        assert resend_stale(timezone.now()) == 3
        message.ack()
    assert sorted(broker.run_ids()) == sorted(str(run_id) for run_id in run_ids)
