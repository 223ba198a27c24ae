"""Runs handed over together go RUNS_PER_MESSAGE to a message (workflows.tasks.execute_runs): on a
real gevent worker they run side by side, never more at once than the worker's concurrency; a
prefork worker sends them on one by one. Each runs once either way."""

import json

import pytest

from tests.webhooks import Reply
from workflows import dispatch
from workflows.models import Run

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e

CONCURRENCY = 2
ANSWER_AFTER = 1.0  # seconds the receiver takes to answer each run's request


@pytest.fixture(params=["gevent", "prefork"])
def worker(request, celery_env, tmp_path_factory):
    process = start_worker(
        celery_env,
        tmp_path_factory.mktemp("worker"),
        pool=request.param,
        concurrency=CONCURRENCY,
        WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1",
    )
    try:
        yield process
    finally:
        process.stop()


def most_at_once(runs: list[Run]) -> int:
    """The most runs that were running at one moment, from their own start and finish times."""
    edges = sorted([(run.started_at, 1) for run in runs] + [(run.finished_at, -1) for run in runs])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most


def test_runs_sent_together_each_run_once_at_most_the_workers_concurrency_at_once(
    transactional_db, worker, alice, make_workflow, webhook
):
    webhook.script("/slow", Reply(200, {"ok": True}, delay=ANSWER_AFTER))
    steps = [{"type": "http", "url": webhook.url("/slow"), "body": {"run": "{{input}}"}}]
    workflow = make_workflow(alice, "e2e-together", steps=steps)
    queued = [
        Run.objects.create(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text=str(index))
        for index in range(6)
    ]
    assert dispatch.RUNS_PER_MESSAGE >= len(queued)  # one message holds them all

    dispatch.runs_dispatch([run.id for run in queued])

    def all_finished() -> list[Run] | None:
        done = list(Run.objects.filter(id__in=[run.id for run in queued], finished_at__isnull=False))
        return done if len(done) == len(queued) else None

    runs = wait_until(
        all_finished,
        timeout=60,
        what="the six runs to finish",
        watch=(worker,),
    )
    assert {run.status for run in runs} == {Run.Status.SUCCEEDED}
    # Each receiver call belongs to one run, and each run called once.
    assert sorted(json.loads(hit.body)["run"] for hit in webhook.hits("/slow")) == [str(i) for i in range(6)]
    # Side by side, but never more at once than the worker's concurrency: it counts runs, however
    # many share a message.
    assert most_at_once(runs) == CONCURRENCY
