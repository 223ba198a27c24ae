"""The sweeper publishes queued runs whose publish was lost, and only those."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs.claims import claim_due_jobs
from tests.cronjobs.helpers import fire_due_jobs
from workflows.dispatch import (
    RESEND_AFTER,
    SWEEP_AFTER,
    messages_send,
    resend_stale,
    runs_dispatch,
    runs_messages,
    sweep_unpublished,
)
from workflows.models import Run

pytestmark = pytest.mark.django_db


def published_run_ids(broker) -> list[str]:
    return [message["headers"]["id"] for message in broker.messages()]


def manual_run(workflow) -> Run:
    """A run committed by an API call whose process died before handing it over (the on_commit
    callback never ran)."""
    return Run.objects.create(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL)


def test_it_hands_over_a_run_committed_but_never_handed_over(workflow, broker):
    run = manual_run(workflow)
    Run.objects.filter(id=run.id).update(created_at=timezone.now() - SWEEP_AFTER - timedelta(seconds=1))

    assert sweep_unpublished(timezone.now()) == 1

    [message] = broker.messages()
    assert message["headers"]["task"] == "workflows.tasks.execute_run"
    assert message["headers"]["id"] == str(run.id)
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
    assert published_run_ids(broker) == [str(run_id)]


def test_it_sends_again_a_queued_run_whose_message_is_gone(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    _, [run_id] = fire_due_jobs(job.next_fire_at)
    runs_dispatch([run_id])
    broker.clear()  # the broker lost it (Redis restarted), or a worker that died holds it
    sent_at = timezone.now() - RESEND_AFTER - timedelta(seconds=1)
    Run.objects.filter(id=run_id).update(published_at=sent_at)

    assert resend_stale(timezone.now()) == 1

    assert published_run_ids(broker) == [str(run_id)]
    assert Run.objects.get(id=run_id).published_at > sent_at
    assert resend_stale(timezone.now()) == 0  # not again before RESEND_AFTER has passed once more


def test_it_does_not_resend_runs_still_waiting_in_the_queue(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    _, [waiting] = fire_due_jobs(job.next_fire_at)
    [message] = runs_messages([waiting]).values()
    messages_send(message)  # its message waits in the queue, behind a backlog
    Run.objects.filter(id=waiting).update(published_at=timezone.now() - RESEND_AFTER * 2)

    assert resend_stale(timezone.now()) == 0
    assert published_run_ids(broker) == [str(waiting)]
