"""workflows.events: each moment of a run's life is appended to the Redis stream the stream server
reads, once committed, by whoever caused it (the API, beat's claim, the worker, the reaper)."""

import json
import logging
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from cronjobs import schedules, services
from cronjobs.claims import claim_due_jobs
from tests.cronjobs.helpers import fire_due_jobs
from workflows import events
from workflows.maintenance import runs_reap_lost
from workflows.models import Run
from workflows.runs import run_cancel, run_enqueue, run_execute
from workflows.services import workflow_delete


@pytest.fixture
def stream():
    """The events appended during the test, as (kind, run id, owner, job, step or None)."""
    connection = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    last = connection.xrevrange(events.STREAM_KEY, count=1)
    since = f"({last[0][0]}" if last else "-"

    def appended() -> list[tuple]:
        entries = connection.xrange(events.STREAM_KEY, min=since)
        return [
            (f["t"], f["r"], int(f["u"]), int(f["j"]) if f["j"] else None, json.loads(f["s"]) if "s" in f else None)
            for _, f in entries
        ]

    yield appended
    connection.close()


@pytest.fixture
def queue_run(django_capture_on_commit_callbacks):
    def queue(workflow, **fields) -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            return run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text="x")

    return queue


def test_a_run_tells_it_was_created_started_finished_each_step_and_ended(workflow, queue_run, stream, alice):
    run = queue_run(workflow)

    run_execute(run_id=run.id)

    told = stream()
    assert [kind for kind, *_ in told] == ["run.created", "run.started", "run.step", "run.step", "run.ended"]
    assert {(run_id, owner, job) for _, run_id, owner, job, _ in told} == {(str(run.id), alice.pk, None)}
    run.refresh_from_db()
    steps = [step for kind, *_, step in told if kind == "run.step"]
    # Each step's log as the run keeps it, without its output (the run carries that when it ends).
    assert steps == [{k: v for k, v in logged.items() if k != "output"} for logged in run.steps]
    assert [step["index"] for step in steps] == [0, 1]


def test_a_run_created_in_a_transaction_that_rolls_back_is_never_told(
    workflow, stream, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text="x")

    assert callbacks, "the run's message and its event wait for the commit"
    assert stream() == []


def test_beat_tells_each_run_it_records_and_a_skipped_slot_has_ended_too(
    workflow, make_job, stream, alice, django_capture_on_commit_callbacks
):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    first = job.next_fire_at

    with django_capture_on_commit_callbacks(execute=True):
        fire_due_jobs(first + timedelta(seconds=15))  # one slot missed (skipped), one to run

    runs = {str(run.id): run for run in Run.objects.filter(job=job)}
    told = [
        (kind, runs[run_id].status)
        for kind, run_id, owner, job_pk, _ in stream()
        if (owner, job_pk) == (alice.pk, job.pk)
    ]
    assert sorted(told) == sorted(
        [("run.created", Run.Status.SKIPPED), ("run.ended", Run.Status.SKIPPED), ("run.created", Run.Status.QUEUED)]
    )


def test_cancelling_a_queued_run_tells_it_ended(workflow, queue_run, stream, alice, django_capture_on_commit_callbacks):
    run = queue_run(workflow)

    with django_capture_on_commit_callbacks(execute=True):
        run_cancel(run=run, by=alice)

    assert [(kind, run_id) for kind, run_id, *_ in stream()] == [
        ("run.created", str(run.id)),
        ("run.ended", str(run.id)),
    ]


def test_the_reaper_tells_the_runs_it_fails_as_lost(workflow, queue_run, stream, django_capture_on_commit_callbacks):
    run = queue_run(workflow)
    long_ago = timezone.now() - timedelta(days=1)
    Run.objects.filter(id=run.id).update(status=Run.Status.RUNNING, started_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert runs_reap_lost() == 1

    assert [kind for kind, *_ in stream()] == ["run.created", "run.ended"]
    run.refresh_from_db()
    assert (run.status, run.reason) == (Run.Status.FAILED, Run.Reason.LOST)


def test_a_run_goes_on_when_redis_cannot_take_its_events(workflow, queue_run, settings, monkeypatch, caplog):
    run = queue_run(workflow)
    # Nothing listens on port 1: every publish fails to connect.
    monkeypatch.setattr(events, "_redis", redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))

    with caplog.at_level(logging.WARNING, logger="workflows.events"):
        run_execute(run_id=run.id)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert "run events not published" in caplog.text


@pytest.fixture
def in_background(monkeypatch):
    """This process told its events as a worker does: through its sender, in the background."""
    monkeypatch.setattr(events, "_sender", None)
    monkeypatch.setattr(events, "_in_background", True)


def test_a_workers_events_go_out_in_the_background_in_the_order_told(in_background, workflow, queue_run, stream):
    runs = [queue_run(workflow) for _ in range(3)]
    for run in runs:
        run_execute(run_id=run.id)
    for n in range(500):  # more than one round trip's worth, told as fast as they come
        events.publish_soon([events.RunEvent(events.STARTED, f"other-{n}", workflow.owner_id, None)])
    events.send_pending()  # as the worker stops: what is still waiting goes out now

    appended = stream()
    for run in runs:
        assert [kind for kind, run_id, *_ in appended if run_id == str(run.id)] == [
            "run.created",
            "run.started",
            "run.step",
            "run.step",
            "run.ended",
        ]
    assert [run_id for _, run_id, *_ in appended if run_id.startswith("other-")] == [f"other-{n}" for n in range(500)]


def test_a_worker_whose_events_redis_cannot_take_logs_them_and_goes_on(in_background, monkeypatch, caplog, alice):
    monkeypatch.setattr(events, "_redis", redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))

    with caplog.at_level(logging.WARNING, logger="workflows.events"):
        events.publish_soon([events.RunEvent(events.STARTED, "a-run", alice.pk, None)])
        events.send_pending()

    assert "run events not published" in caplog.text
    sender = events._sender
    monkeypatch.setattr(events, "_redis", None)  # Redis reachable again: the same sender goes on
    connection = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    before = connection.xlen(events.STREAM_KEY)
    events.publish_soon([events.RunEvent(events.STARTED, "b-run", alice.pk, None)])
    events.send_pending()
    assert events._sender is sender
    assert connection.xlen(events.STREAM_KEY) == before + 1


def test_the_stream_keeps_a_bounded_number_of_events(settings, alice):
    settings.RUN_EVENTS_KEPT = 1000
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.delete(events.STREAM_KEY)

    events.publish(events.RunEvent(events.CREATED, f"run-{n}", alice.pk, None) for n in range(5000))

    # Trimmed as it grows, by whole blocks (approximately): never far above the number kept.
    assert 1000 <= connection.xlen(events.STREAM_KEY) < 1000 + 200


@pytest.mark.parametrize("change", ["pause", "replace", "delete"])
def test_a_run_prepared_ahead_and_dropped_by_a_change_of_its_job_is_told_deleted(
    alice, workflow, make_job, stream, change, django_capture_on_commit_callbacks
):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    slot = job.next_fire_at
    with django_capture_on_commit_callbacks(execute=True):
        _, [(_, run_id)] = claim_due_jobs(slot - timedelta(seconds=3), slot)  # claimed ahead of its slot

    with django_capture_on_commit_callbacks(execute=True):
        if change == "pause":
            services.job_pause(user=alice, job_id=job.job_id)
        elif change == "replace":
            make_job(workflow, schedules.interval_spec(seconds=30))  # same job id: a new schedule
        else:
            services.job_delete(user=alice, job_id=job.job_id)

    assert not Run.objects.filter(id=run_id).exists()
    assert [(kind, told_id) for kind, told_id, *_ in stream()] == [
        ("run.created", str(run_id)),
        ("run.deleted", str(run_id)),
    ]


def test_the_runs_of_a_deleted_workflow_are_told_deleted(
    alice, workflow, queue_run, stream, django_capture_on_commit_callbacks
):
    run = queue_run(workflow)

    with django_capture_on_commit_callbacks(execute=True):
        workflow_delete(user=alice, workflow_id=workflow.workflow_id)

    told = [(kind, told_id) for kind, told_id, *_ in stream()]
    assert told == [("run.created", str(run.id)), ("run.deleted", str(run.id))]
