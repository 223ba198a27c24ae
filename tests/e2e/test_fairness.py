"""One user's backlog does not delay another user's run, on real worker and beat processes: a
user's runs beyond their concurrency limit wait, queued, and start as earlier ones end."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs import services as cron
from cronjobs.models import CronJob
from tests.webhooks import Reply
from workflows.models import Run, RunLimit

from .conftest import start_worker, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 3
BACKLOG = 12
SLOW = 2.0  # seconds the backlog's webhook takes to answer


@pytest.fixture(scope="module")
def hook_worker(celery_env, tmp_path_factory):
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"), WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1")
    try:
        yield process
    finally:
        process.stop()


def jobs_at(owner, workflow, count: int, slot, prefix: str) -> list[CronJob]:
    jobs = [
        cron.job_upsert(
            caller=owner,
            job_id=f"{prefix}-{index}",
            workflow_id=workflow.workflow_id,
            user_id=None,
            input_text=str(index),
            spec=schedules.interval_spec(hours=1),
        )
        for index in range(count)
    ]
    CronJob.objects.filter(pk__in=[job.pk for job in jobs]).update(next_fire_at=slot)
    return jobs


def test_a_users_backlog_waits_and_another_users_run_starts_on_its_slot(
    transactional_db, hook_worker, beat, alice, bob, make_workflow, webhook
):
    webhook.script("/slow", Reply(delay=SLOW))
    RunLimit.objects.create(owner=alice, max_concurrent_runs=LIMIT)
    slow = make_workflow(alice, "e2e-slow", steps=[{"type": "http", "url": webhook.url("/slow"), "timeout": 30}])
    quick = make_workflow(bob, "e2e-quick", steps=[{"type": "python", "callable": "echo"}])
    slot = timezone.now() + timedelta(seconds=12)  # claimed ahead by beat (10 s), as in production
    jobs_at(alice, slow, BACKLOG, slot, "backlog")
    [bobs_job] = jobs_at(bob, quick, 1, slot + timedelta(seconds=2), "bobs")

    alices = Run.objects.filter(owner=alice)
    most_running = 0
    deadline = time.monotonic() + 60
    while alices.filter(status=Run.Status.SUCCEEDED).count() < BACKLOG and time.monotonic() < deadline:
        most_running = max(most_running, alices.filter(status=Run.Status.RUNNING).count())
        time.sleep(0.1)

    bobs_run = wait_until(
        lambda: Run.objects.filter(job=bobs_job, status=Run.Status.SUCCEEDED).first(),
        timeout=10,
        what="bob's run",
        watch=(hook_worker, beat),
    )
    # Bob's run started on its slot, while most of alice's backlog was still waiting.
    assert (bobs_run.started_at - bobs_run.scheduled_for).total_seconds() < 1.0
    assert alices.filter(started_at__gt=bobs_run.started_at).count() >= BACKLOG - 2 * LIMIT
    # Alice's runs ran LIMIT at a time, every one of them, once each.
    assert alices.filter(status=Run.Status.SUCCEEDED).count() == BACKLOG
    assert 1 <= most_running <= LIMIT
    calls = [hit.headers["X-Vingine-Run-Id"] for hit in webhook.hits("/slow")]
    assert sorted(calls) == sorted(str(run_id) for run_id in alices.values_list("id", flat=True))
    # They waited their turn: at most LIMIT of them were ever handed over at once.
    starts = sorted(alices.values_list("started_at", flat=True))
    assert (starts[-1] - starts[0]).total_seconds() >= SLOW * (BACKLOG / LIMIT - 1) - 1
