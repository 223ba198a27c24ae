"""What happens to runs, told as it commits: one Redis stream of run events, read by the live
stream's servers (``streams``), which show each subscriber the events of their own runs.

An event is small (its kind, the run, its owner and job, a step's log for ``run.step``): the stream
server reads the run as the API shows it when it delivers the event, so the worker and beat do no
rendering, and one Redis round trip carries all the events of one moment (a beat tick's runs, the
events a worker's runs told in the last few milliseconds).

Events are a live view, not the record: if Redis cannot take them they are dropped (logged) and
the run goes on; the database, read through the API, is what a client falls back to.

A worker process tells its runs' events in the background (``publish_soon``, once
``send_in_background`` is called where the worker starts): one sender per process takes whatever
its runs have told since its last round trip, at most every SEND_EVERY seconds, and appends it in
one round trip. At a burst a worker has a hundred runs in flight, and a round trip for each of their
events (three per one-step run) cost each run about a fifth of what the worker spent on it. In any
other process, and in one that never called it (a test running a run in place), ``publish_soon``
publishes at once.
"""

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

STREAM_KEY = "vingine:run-events"

CREATED, STARTED, STEP, ENDED = "run.created", "run.started", "run.step", "run.ended"
# A run that is gone: a slot prepared ahead and dropped when its job was paused or replaced, or the
# runs of a deleted job. Told with its id only: there is no run to show.
DELETED = "run.deleted"
KINDS = (CREATED, STARTED, STEP, ENDED, DELETED)

# A step's log goes out without its output (up to 256 KiB): the run carries it once it ends.
_STEP_FIELDS_LEFT_OUT = ("output",)


class RunEvent(NamedTuple):
    kind: str
    run_id: uuid.UUID | str
    owner_id: int
    job_pk: int | None
    step: dict | None = None


_redis: redis.Redis | None = None


def _client() -> redis.Redis:
    global _redis
    if _redis is None:  # one connection pool per process, made when first needed
        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis


def fields(event: RunEvent) -> dict[str, str]:
    """The event as the stream keeps it: short names, text values."""
    kept = {"t": event.kind, "r": str(event.run_id), "u": str(event.owner_id), "j": str(event.job_pk or "")}
    if event.step is not None:
        step = {name: value for name, value in event.step.items() if name not in _STEP_FIELDS_LEFT_OUT}
        kept["s"] = json.dumps(step, default=str)
    return kept


def publish(events: Iterable[RunEvent]) -> None:
    """Append the events to the stream, in order, in one round trip; the oldest beyond
    RUN_EVENTS_KEPT are trimmed (approximately, which costs Redis least)."""
    events = list(events)
    if not events:
        return
    pipe = _client().pipeline(transaction=False)
    for event in events:
        pipe.xadd(STREAM_KEY, fields(event), maxlen=settings.RUN_EVENTS_KEPT, approximate=True)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("run events not published (%d, e.g. %s of run %s): %r", len(events), *events[0][:2], exc)


# A worker's sender sends at most once per this many seconds: what its runs tell meanwhile waits
# and goes in the next round trip, all together. An event told after a quiet spell goes at once.
SEND_EVERY = 0.02
# At most this many events in one round trip: a sender catching up after Redis was away does not
# build one huge pipeline.
SEND_BATCH = 1000


class _Sender:
    """Appends what its process's runs tell to the stream from a thread of its own (a greenlet on
    the gevent pool), in the order told: one queue, one round trip for all that waited."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._waiting: deque[RunEvent] = deque()
        self._wake = threading.Event()
        # One round trip at a time, in order: the sender's, or a last one at shutdown (send_pending).
        self._sending = threading.Lock()
        # A daemon thread (a greenlet once gevent has patched threading): it ends with the process.
        self._thread = threading.Thread(target=self._send_forever, name="vingine-run-events", daemon=True)
        self._thread.start()

    def post(self, events: Iterable[RunEvent]) -> None:
        self._waiting.extend(events)
        self._wake.set()

    def _send_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.send_waiting()
            except Exception:  # never seen; logged, and the sender goes on with the next events
                logger.exception("run events not published")
            time.sleep(SEND_EVERY)

    def send_waiting(self) -> None:
        with self._sending:
            while self._waiting:
                batch = []
                while self._waiting and len(batch) < SEND_BATCH:
                    batch.append(self._waiting.popleft())
                publish(batch)


_sender: _Sender | None = None
_in_background = False


def send_in_background() -> None:
    """From now on, this process's (and its forked pool processes') ``publish_soon`` events go out
    through a sender of their own: called where a worker starts."""
    global _in_background
    _in_background = True


def publish_soon(events: Iterable[RunEvent]) -> None:
    """Publish events of a run in progress: through this process's sender when it has one (a
    worker), in order with those told before; else at once."""
    global _sender
    if not _in_background:
        publish(events)
        return
    if _sender is None or _sender.pid != os.getpid():  # first use, or a pool process forked since
        _sender = _Sender()
    _sender.post(events)


def send_pending() -> None:
    """Send what this process's sender holds now: called as a worker (or a pool process) stops, so
    that the events of its last runs are not left behind."""
    if _sender is not None and _sender.pid == os.getpid():
        _sender.send_waiting()


def publish_on_commit(events: Iterable[RunEvent]) -> None:
    """Publish once the caller's transaction commits (at once outside one): a subscriber who hears
    of a run can read it."""
    events = list(events)
    if events:
        transaction.on_commit(lambda: publish(events))
