"""Stopping a run that is running: the API marks it in Redis, the process running it stops it.

A run asked to stop is marked under ``KEY`` (its id) for as long as a run can last. Every process
that executes runs watches the ones it has in flight: every ``WATCH_EVERY`` seconds, one MGET for
all of them, whatever their number. A run found marked stops before its next step; on the gevent
pool (the workers' default) a step in flight is interrupted where it waits, so an http call's
connection is dropped within about a second of the request. On the prefork pool a step in flight
runs to its end and the run stops after it.

Polling, not pub/sub: a worker that was disconnected from Redis when the mark was written still
finds it on its next look.
"""

import functools
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
import redis
from django.conf import settings

from vingine.concurrency import gevent_patched

logger = logging.getLogger(__name__)

KEY = "vingine:run-cancel:{}"
WATCH_EVERY = 0.5  # seconds between looks: a running run stops within about this much of its cancel


class RunCancelled(BaseException):
    """Raised in a run's steps when it is cancelled. A BaseException, as gevent's own Timeout: step
    code that catches Exception must not swallow it."""


@functools.cache
def _client() -> redis.Redis:
    # One connection pool per process (redis-py makes a forked child open its own connections).
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def request_stop(run_ids: Iterable[uuid.UUID | str]) -> None:
    """Mark runs to be stopped by whichever worker runs them. Raises redis' error when Redis is
    unreachable (the caller's transaction, which records the request, is then rolled back)."""
    keep = settings.WORKFLOW_RUN_TIME_LIMIT + settings.WORKFLOW_RUN_KILL_GRACE + 60
    pipeline = _client().pipeline(transaction=False)
    for run_id in run_ids:
        pipeline.set(KEY.format(run_id), "1", ex=keep)
    pipeline.execute()


@dataclass
class Watched:
    run_id: str
    greenlet: Any  # the greenlet running the run's steps (gevent pool), else None
    cancelled: bool = False

    def is_cancelled(self) -> bool:
        return self.cancelled


_watched: dict[str, Watched] = {}
_watcher: threading.Thread | None = None
_start_lock = threading.Lock()


@contextmanager
def watching(run_id: uuid.UUID | str) -> Iterator[Watched]:
    """Watch the run for a cancel while the block (its steps, nothing else) runs: ``is_cancelled``
    turns true, and under gevent the block is interrupted with RunCancelled where it waits."""
    _start_watcher()
    watched = Watched(str(run_id), gevent.getcurrent() if gevent_patched() else None)
    _watched[watched.run_id] = watched
    try:
        yield watched
    finally:
        # Popped first: an interruption scheduled from here on finds the run gone and does nothing.
        _watched.pop(watched.run_id, None)


def _start_watcher() -> None:
    global _watcher
    with _start_lock:
        if _watcher is None or not _watcher.is_alive():
            # A daemon thread (a greenlet once gevent has patched threading): it ends with the process.
            _watcher = threading.Thread(target=_watch, name="vingine-cancel-watcher", daemon=True)
            _watcher.start()


def _watch() -> None:
    connection = _client()
    failing = False
    while True:
        time.sleep(WATCH_EVERY)
        runs = [watched for watched in list(_watched.values()) if not watched.cancelled]
        if not runs:
            continue
        try:
            marks = connection.mget([KEY.format(watched.run_id) for watched in runs])
            failing = False
        except redis.RedisError as exc:  # Redis away: runs go on; their cancels are seen once it is back
            if not failing:
                logger.warning("cannot read run cancels: %r", exc)
            failing = True
            continue
        for watched, mark in zip(runs, marks, strict=True):
            if mark is not None:
                _stop(watched)


def _stop(watched: Watched) -> None:
    watched.cancelled = True
    logger.info("run %s cancelled: stopping it", watched.run_id)
    if watched.greenlet is not None:
        # Thrown from the hub, where the run's greenlet is suspended in a wait: decided there, at
        # that moment, so a run that has left its steps meanwhile (writing its result) is never hit.
        gevent.get_hub().loop.run_callback(_interrupt, watched)


def _interrupt(watched: Watched) -> None:
    if _watched.get(watched.run_id) is watched and not watched.greenlet.dead:
        watched.greenlet.throw(RunCancelled())
