"""What happens to runs, told as it commits: one Redis stream of run events, read by the live
stream's servers (``streams``), which show each subscriber the events of their own runs.

An event is small (its kind, the run, its owner and job, a step's log for ``run.step``): the stream
server reads the run as the API shows it when it delivers the event, so the worker and beat do no
rendering, and one Redis round trip carries all the events of one moment (a beat tick's runs, a
run's last step and its end).

Events are a live view, not the record: if Redis cannot take them they are dropped (logged) and
the run goes on; the database, read through the API, is what a client falls back to.
"""

import json
import logging
import uuid
from collections.abc import Iterable
from typing import NamedTuple

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

STREAM_KEY = "vingine:run-events"

CREATED, STARTED, STEP, ENDED = "run.created", "run.started", "run.step", "run.ended"
KINDS = (CREATED, STARTED, STEP, ENDED)

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


def publish_on_commit(events: Iterable[RunEvent]) -> None:
    """Publish once the caller's transaction commits (at once outside one): a subscriber who hears
    of a run can read it."""
    events = list(events)
    if events:
        transaction.on_commit(lambda: publish(events))
