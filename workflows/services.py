"""Writes for workflows and runs. Views call these; nothing else writes these tables."""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import db
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from kombu.exceptions import OperationalError
from kombu.serialization import dumps

from vingine import heartbeat
from vingine.errors import Conflict, Forbidden, InvalidInput, QueueUnavailable
from vingine.locks import lock_for_transaction

from .models import Run, Workflow
from .redaction import restore_redacted
from .runner import TIMED_OUT, DynamicWorkflowRunner, validate_steps
from .selectors import workflow_get_for

if TYPE_CHECKING:
    from cronjobs.models import CronJob

logger = logging.getLogger(__name__)

PUBLISH_BATCH = 500


@transaction.atomic
def workflow_save(*, owner: AbstractBaseUser, workflow_id: str, name: str, steps: list[dict]) -> Workflow:
    """Create the workflow, or replace the one ``owner`` already has under this id.

    A header sent back as it is shown, redacted, keeps the value stored for it.
    """
    lock_for_transaction(f"workflow:{workflow_id}")
    # NO KEY: runs being committed meanwhile check their workflow with KEY SHARE, which this lets be.
    existing = Workflow.objects.select_for_update(no_key=True).filter(workflow_id=workflow_id).first()
    if existing is not None and existing.owner_id != owner.pk:
        raise Forbidden(f"Workflow id {workflow_id} belongs to another user; choose another workflow_id")
    if existing is not None:
        steps = restore_redacted(steps, existing.steps)
    problems = validate_steps(steps)
    if problems:
        raise InvalidInput("; ".join(problems))
    if existing is not None:
        existing.name, existing.steps = name, steps
        existing.save(update_fields=["name", "steps", "updated_at"])
        return existing
    return Workflow.objects.create(workflow_id=workflow_id, owner=owner, name=name, steps=steps)


@transaction.atomic
def workflow_delete(*, user: AbstractBaseUser, workflow_id: str) -> None:
    # Locked, so a job being created for this workflow either commits first (and blocks the
    # delete) or waits and then finds the workflow gone.
    workflow = workflow_get_for(user=user, workflow_id=workflow_id, action="delete", lock=True)
    job_ids = list(workflow.cronjobs.values_list("job_id", flat=True)[:5])
    if job_ids:
        raise Conflict(
            f"Workflow {workflow_id} is used by jobs {', '.join(job_ids)}; delete or replace those jobs first"
        )
    workflow.delete()


def run_enqueue(
    *,
    workflow: Workflow,
    owner: AbstractBaseUser,
    trigger: str,
    input_text: str,
    job: "CronJob | None" = None,
    scheduled_for: datetime | None = None,
) -> Run:
    """Record a queued run and hand it to a worker once the row is committed."""
    with transaction.atomic():
        run = Run.objects.create(
            workflow=workflow,
            owner=owner,
            job=job,
            trigger=trigger,
            scheduled_for=scheduled_for,
            input_text=input_text,
        )
        # Publishing inside the transaction could let a worker look for a row it cannot see yet.
        transaction.on_commit(lambda: _publish(run))
    return run


PUBLISH_RETRY_POLICY = {"max_retries": 12, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def _publish(run: Run) -> None:
    from .tasks import execute_run  # tasks import services; import here to avoid a cycle

    try:
        # No time limits in the message: Celery would otherwise copy this process's into it, and
        # they would win over those of the worker, whose WORKFLOW_RUN_TIME_LIMIT is the one that counts.
        # Retried for a few seconds: a broker restart is waited out rather than failing the run.
        execute_run.apply_async(
            (str(run.id),), time_limit=None, soft_time_limit=None, retry=True, retry_policy=PUBLISH_RETRY_POLICY
        )
        Run.objects.filter(id=run.id).update(published_at=timezone.now())
    except OperationalError as exc:
        # The row is committed but no worker will ever hear of it: say so in the run instead of
        # leaving it queued for ever, and tell the caller to retry.
        logger.error("run %s could not be queued: %r", run.id, exc)
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.error = f"Could not be queued: the task queue is unreachable ({exc})"
        run.reason = Run.Reason.ERROR
        Run.objects.filter(id=run.id, status=Run.Status.QUEUED).update(
            status=run.status, finished_at=run.finished_at, error=run.error, reason=run.reason
        )
        raise QueueUnavailable("The task queue is unreachable; the run was recorded as failed. Try again shortly.")


class _Recorder:
    """Stands in for kombu's Redis publish batch: keeps the Redis commands each message would be
    sent with (``lpush`` of the serialized message onto its queue) instead of sending them."""

    def __init__(self, channel):
        self.channel = channel
        self.commands: list[tuple[str, tuple]] = []

    def add(self, name: str, *args) -> None:
        self.commands.append((name, args))


def runs_messages(run_ids: list[uuid.UUID]) -> list[tuple[str, tuple]]:
    """The broker commands that hand these runs to the workers, built now and sent later by
    ``messages_send``: the scheduler builds them seconds before a slot, so that at the slot only
    one Redis pipeline is left to send.

    Each is the message execute_run.delay() would send, built by celery's amqp layer and routed by
    kombu's Redis channel exactly as a publish does (the direct exchange turned into the queue
    name, as celery does), without what makes delay() cost ~0.5 ms here: a repr of the arguments,
    a settings lookup and a queue declaration check per call.
    """
    from .tasks import execute_run  # tasks import services; import here to avoid a cycle

    if not run_ids:
        return []
    app = execute_run.app
    amqp = app.amqp
    queue = amqp.router.route({}, execute_run.name, (), {})["queue"]
    with app.pool.acquire(block=True) as connection:
        channel = connection.default_channel
        recorder = _Recorder(channel)
        for run_id in map(str, run_ids):
            headers, properties, body, _ = amqp.create_task_message(
                run_id, execute_run.name, (run_id,), {}, argsrepr=f"('{run_id}',)", kwargsrepr="{}"
            )
            content_type, content_encoding, data = dumps(body, serializer=app.conf.task_serializer)
            message = channel.prepare_message(data, 0, content_type, content_encoding, headers, properties)
            channel.basic_publish(message, exchange="", routing_key=queue.name, _publish_batch=recorder)
    return recorder.commands


def messages_send(commands: list[tuple[str, tuple]]) -> None:
    """Send commands built by ``runs_messages``: one Redis round trip per PUBLISH_BATCH messages."""
    from .tasks import execute_run

    if not commands:
        return
    with execute_run.app.pool.acquire(block=True) as connection:
        with connection.default_channel.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
            for start in range(0, len(commands), PUBLISH_BATCH):
                for name, args in commands[start : start + PUBLISH_BATCH]:
                    getattr(pipe, name)(*args)
                pipe.execute()


# A run's message carries the run id as its task id, in plain JSON headers (the body is base64).
MESSAGE_ID = re.compile(rb'"id": "([0-9a-f-]{36})"')


def waiting_run_ids() -> set[str]:
    """The runs whose message waits in the broker queue, not yet taken by any worker."""
    from .tasks import execute_run

    queue = execute_run.app.amqp.router.route({}, execute_run.name, (), {})["queue"]
    with execute_run.app.pool.acquire(block=True) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as client:
            lists = [client.lrange(channel._q_for_pri(queue.name, pri), 0, -1) for pri in channel.priority_steps]
    return {found.decode() for messages in lists for message in messages for found in MESSAGE_ID.findall(message)}


def runs_mark_published(run_ids: list[uuid.UUID]) -> None:
    """Stamp published_at, in one statement: the sweeper leaves these runs alone from now on."""
    if not run_ids:
        return
    if connection.vendor != "postgresql":  # SQLite (make run's default database): no arrays
        Run.objects.filter(id__in=run_ids, published_at__isnull=True).update(published_at=timezone.now())
        return
    # One array parameter: id__in would send (and parse) a placeholder per run.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Run._meta.db_table} SET published_at = %s WHERE id = ANY(%s::uuid[]) AND published_at IS NULL",
            [timezone.now(), list(run_ids)],
        )


def runs_publish(run_ids: list[uuid.UUID]) -> None:
    """Hand committed, queued runs to the workers over one broker connection, then mark them published.

    Raises the broker's error when it is unreachable: the runs stay unpublished and the
    scheduler's sweeper publishes them again later. A run published twice (a failure after some
    messages went out) still runs once: run_execute claims it first.
    """
    messages_send(runs_messages(run_ids))
    runs_mark_published(run_ids)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_headers(run: Run) -> dict[str, str]:
    """The headers every http step of the run sends: the run id (also as Idempotency-Key, the name
    receivers commonly deduplicate on), the job and the slot it fires for."""
    headers = {"Idempotency-Key": str(run.id), "X-Vingine-Run-Id": str(run.id), "X-Vingine-Trigger": run.trigger}
    if run.job_id is not None:
        headers["X-Vingine-Job-Id"] = run.job.job_id
    if run.scheduled_for is not None:
        headers["X-Vingine-Scheduled-For"] = run.scheduled_for.astimezone(UTC).isoformat()
    return headers


def run_execute(*, run_id: uuid.UUID | str) -> Run | None:
    """Run a queued run. Safe to call twice: only the caller that claims the row runs it."""
    started_at, worker = timezone.now(), heartbeat.worker_id or ""
    # Ours if still queued, or if an earlier try of this very claim was committed although the
    # database went away before saying so (the same start time and worker).
    ours = Q(status=Run.Status.QUEUED) | Q(status=Run.Status.RUNNING, started_at=started_at, worker=worker)
    claimed = _retrying_database_errors(
        lambda: Run.objects.filter(ours, id=run_id).update(
            status=Run.Status.RUNNING, started_at=started_at, worker=worker
        )
    )
    if claimed != 1:
        # Another delivery of the same message got there first, or the run (or its job) is gone.
        logger.info("run %s not claimed: already taken or deleted", run_id)
        return None
    run = _retrying_database_errors(lambda: Run.objects.select_related("workflow", "job").get(id=run_id))
    # The same limit Celery enforces on execute_run; kept here too so steps that wait (http
    # timeouts, backoff between retries) stop at it, and a run outside a worker has it as well.
    deadline = time.monotonic() + settings.WORKFLOW_RUN_TIME_LIMIT
    result = DynamicWorkflowRunner(run.workflow, run_headers=run_headers(run)).run(run.input_text, deadline=deadline)
    run.status = Run.Status.SUCCEEDED if result.succeeded else Run.Status.FAILED
    run.output = _jsonable(result.output)
    run.output_truncated = result.output_truncated
    run.steps = _jsonable(result.steps)
    run.error = result.error
    if result.succeeded:
        run.reason = ""
    else:
        run.reason = Run.Reason.TIMEOUT if result.timed_out else Run.Reason.ERROR
    run.finished_at = timezone.now()
    # Conditional on status: a run that something else has finished meanwhile (the reaper) is
    # not overwritten.
    finish = Run.objects.filter(id=run.id, status=Run.Status.RUNNING)
    _retrying_database_errors(
        lambda: finish.update(
            status=run.status,
            output=run.output,
            output_truncated=run.output_truncated,
            steps=run.steps,
            error=run.error,
            reason=run.reason,
            finished_at=run.finished_at,
        )
    )
    return run


DATABASE_RETRY_SECONDS = 120  # how long a run's worker waits for the database to come back


def _retrying_database_errors(write: Callable[[], Any]) -> Any:
    """Run ``write``, trying again while the database is unreachable (restarting, failing over).

    Giving up at the first error would lose the run: its message is acknowledged when the task
    fails, so a run not yet claimed would wait for the sweeper, and one claimed would stay
    ``running`` until the time-limit reaper, its result (the steps' effects are out in the world)
    lost. Each write must be safe to repeat: the one that failed may have been committed.
    """
    give_up = time.monotonic() + DATABASE_RETRY_SECONDS
    wait = 0.5
    while True:
        try:
            return write()
        except (db.OperationalError, db.InterfaceError) as exc:
            if time.monotonic() + wait > give_up:
                raise
            logger.warning("database unreachable, recording the run again in %.1fs: %r", wait, exc)
            if not connection.in_atomic_block:
                connection.close()
            time.sleep(wait)
            wait = min(wait * 2, 2.0)


def run_end_abruptly(*, run_id: uuid.UUID | str, timed_out: bool) -> bool:
    """Record a run whose pool process ended under it: killed at the hard time limit, or died
    (out of memory, killed). Called in the worker's main process, which saw it happen."""
    if timed_out:
        reason = Run.Reason.TIMEOUT
        error = f"{TIMED_OUT} ({settings.WORKFLOW_RUN_TIME_LIMIT}s) and was killed"
    else:
        reason = Run.Reason.LOST
        error = "The process running this run died before the run finished (killed or out of memory); "
        error += "the run was not started again"
    ended = Run.objects.filter(id=run_id, status=Run.Status.RUNNING).update(
        status=Run.Status.FAILED, reason=reason, error=error, finished_at=timezone.now()
    )
    return ended == 1


def runs_reap_lost(*, now: datetime | None = None) -> int:
    """Fail the runs still ``running`` whose worker is gone; return how many.

    A worker that dies mid-run (killed, out of memory, machine lost) leaves its run ``running``.
    Its message is not run again: the run is no longer ``queued``, and its steps may already have
    had effects (a webhook called) that must not happen twice. Instead the run ends failed with
    reason ``lost``, once

    - the worker that took it has sent no heartbeat for WORKER_LOST_AFTER_SECONDS, or
    - whatever the worker, the hard time limit and a grace period have passed: no worker can still
      be on it (runs taken by a worker from before heartbeats, or when Redis cannot tell).

    Conditional UPDATEs: safe from several beats at once.
    """
    now = now or timezone.now()
    reaped = _reap_runs_of_dead_workers(now)
    seconds = settings.WORKFLOW_RUN_TIME_LIMIT + settings.WORKFLOW_RUN_KILL_GRACE + settings.WORKFLOW_RUN_LOST_GRACE
    reaped += Run.objects.filter(status=Run.Status.RUNNING, started_at__lt=now - timedelta(seconds=seconds)).update(
        status=Run.Status.FAILED,
        reason=Run.Reason.LOST,
        finished_at=now,
        error="The worker running this run stopped before the run finished (it crashed or was killed); "
        "the run was not started again",
    )
    if reaped:
        logger.warning("%d run(s) lost with their worker marked failed", reaped)
    return reaped


def _reap_runs_of_dead_workers(now: datetime) -> int:
    quiet_for = timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    running = Run.objects.filter(status=Run.Status.RUNNING, started_at__lt=now - quiet_for).exclude(worker="")
    workers = list(running.values_list("worker", flat=True).distinct())
    if not workers:
        return 0
    alive = heartbeat.workers_alive(workers, heartbeat.client())
    if alive is None:
        return 0
    dead = sorted(set(workers) - alive)
    if not dead:
        return 0
    logger.warning("workers without a heartbeat for %s: %s", quiet_for, ", ".join(dead))
    return running.filter(worker__in=dead).update(
        status=Run.Status.FAILED,
        reason=Run.Reason.LOST,
        finished_at=now,
        error=f"The worker running this run stopped sending heartbeats for {quiet_for.seconds}s "
        "(it crashed, was killed or lost its machine); the run was not started again",
    )


TRIM_BATCH = 500  # parents (jobs or workflows) looked at per query


def runs_trim_history(*, keep: int | None = None) -> int:
    """Delete all but the newest ``keep`` (RUN_HISTORY_LIMIT) runs of each job, and of each
    workflow's runs that have no job. Queued and running runs are never deleted.

    Safe to run twice or from several beats at once: deleting a row already deleted does nothing.
    """
    keep = keep or settings.RUN_HISTORY_LIMIT
    from cronjobs.models import CronJob  # cronjobs imports workflows; import here to avoid a cycle

    deleted = _trim(CronJob, "job", keep, Run.objects.all())
    deleted += _trim(Workflow, "workflow", keep, Run.objects.filter(job__isnull=True))
    if deleted:
        logger.info("trimmed %d run(s) beyond the newest %d per job", deleted, keep)
    return deleted


def _trim(parent: type[models.Model], field: str, keep: int, runs: models.QuerySet[Run]) -> int:
    # Each parent's (keep+1)-th newest run, found through the run_job_newest index with one probe
    # per parent; only parents past the limit come back, and only those get a DELETE.
    newest = runs.filter(**{field: OuterRef("pk")}).order_by("-created_at", "-id")[keep : keep + 1]
    deleted, after = 0, None
    while True:
        page = parent.objects.order_by("pk")
        if after is not None:
            page = page.filter(pk__gt=after)
        pks = list(page.values_list("pk", flat=True)[:TRIM_BATCH])
        if not pks:
            return deleted
        after = pks[-1]
        over = (
            parent.objects.filter(pk__in=pks)
            .annotate(cut_at=Subquery(newest.values("created_at")), cut_id=Subquery(newest.values("id")))
            .filter(cut_id__isnull=False)
            .values_list("pk", "cut_at", "cut_id")
        )
        for pk, cut_at, cut_id in over:
            # That run and every older one, in the same (created_at, id) order.
            older = runs.filter(Q(created_at__lt=cut_at) | Q(created_at=cut_at, id__lte=cut_id), **{field: pk})
            deleted += older.exclude(status__in=(Run.Status.QUEUED, Run.Status.RUNNING)).delete()[0]
