"""The beat scheduler class (``BEAT_SCHEDULER``).

django-celery-beat's DatabaseScheduler reads the PeriodicTask rows our services write; this
subclass adds a heartbeat so /health can tell whether beat is alive, and makes sure a change
committed while beat starts is not missed.
"""

import logging
import time
from datetime import UTC, datetime

from django_celery_beat.schedulers import DatabaseScheduler

from vingine import heartbeat

from .services import FIRE_TASK

logger = logging.getLogger(__name__)

NEVER = datetime.min.replace(tzinfo=UTC)  # older than any change marker


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    heartbeat_every = 5.0  # seconds
    _last_heartbeat = 0.0
    _redis = None

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every:
            try:
                self._redis = self._redis or heartbeat.client()
                heartbeat.beat(self._redis)
                self._last_heartbeat = now
            except Exception as exc:  # a Redis blip must not stop scheduling
                logger.warning("beat heartbeat not written: %r", exc)
        return super().tick(*args, **kwargs)

    def reserve(self, entry):
        new_entry = super().reserve(entry)
        if new_entry.task == FIRE_TASK:
            # The slot a fire belongs to is decided by when beat fired it, not by when a worker
            # gets to the message: a queue delay must not push two fires into one slot.
            new_entry.kwargs = {**new_entry.kwargs, "fired_at": new_entry.last_run_at.isoformat()}
        return new_entry

    def setup_schedule(self) -> None:
        # Upstream takes its change baseline at its first check, after the initial read of every
        # row: a change committed in between would wait for the five-minute full sync. Taking it
        # before the read turns such a change into a reload on the first tick.
        self._last_timestamp = self.Changes.last_change() or NEVER
        super().setup_schedule()

    def schedule_changed(self) -> bool:
        changed = super().schedule_changed()
        if self._last_timestamp is None:
            # No marker row (never written, or removed): upstream would treat the first marker
            # written later as the baseline rather than as a change.
            self._last_timestamp = NEVER
        return changed
