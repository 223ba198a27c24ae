"""Keeping the run history true and bounded: runs whose worker died end failed as ``lost``, and
each job keeps its newest RUN_HISTORY_LIMIT runs. Both are sent by beat (CELERY_BEAT_SCHEDULE) and
are safe to run twice and from several beats at once."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from cronjobs.models import CronJob
from vingine import heartbeat

from . import events
from .events import RunEvent
from .models import Run, Workflow

logger = logging.getLogger(__name__)


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
    running = Run.objects.filter(status=Run.Status.RUNNING, finished_at__isnull=True)  # the run_unfinished index
    reaped += _end_lost(
        running.filter(started_at__lt=now - timedelta(seconds=seconds)),
        now,
        "The worker running this run stopped before the run finished (it crashed or was killed); "
        "the run was not started again",
    )
    if reaped:
        logger.warning("%d run(s) lost with their worker marked failed", reaped)
    return reaped


def _reap_runs_of_dead_workers(now: datetime) -> int:
    quiet_for = timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    running = Run.objects.filter(status=Run.Status.RUNNING, finished_at__isnull=True, started_at__lt=now - quiet_for)
    running = running.exclude(worker="")
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
    return _end_lost(
        running.filter(worker__in=dead),
        now,
        f"The worker running this run stopped sending heartbeats for {quiet_for.seconds}s "
        "(it crashed, was killed or lost its machine); the run was not started again",
    )


def _end_lost(runs: models.QuerySet[Run], now: datetime, error: str) -> int:
    """End these running runs failed (reason lost), and tell the live stream. A run its worker is
    recording right now (its row locked) is left to that worker."""
    with transaction.atomic():
        lost = list(runs.select_for_update(skip_locked=True).values_list("id", "owner_id", "job_id"))
        if lost:
            Run.objects.filter(id__any=[run_id for run_id, _, _ in lost], status=Run.Status.RUNNING).update(
                status=Run.Status.FAILED, reason=Run.Reason.LOST, finished_at=now, error=error
            )
        events.publish_on_commit(RunEvent(events.ENDED, *run) for run in lost)
    return len(lost)


TRIM_BATCH = 500  # parents (jobs or workflows) looked at per query


def runs_trim_history(*, keep: int | None = None) -> int:
    """Delete all but the newest ``keep`` (RUN_HISTORY_LIMIT) runs of each job, and of each
    workflow's runs that have no job. Queued and running runs are never deleted.

    Safe to run twice or from several beats at once: deleting a row already deleted does nothing.
    """
    keep = keep or settings.RUN_HISTORY_LIMIT

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
