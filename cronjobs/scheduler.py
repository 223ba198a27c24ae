"""The beat scheduler class (``BEAT_SCHEDULER``).

django-celery-beat's DatabaseScheduler reads the PeriodicTask rows our services write. This
subclass adds a heartbeat so /health can tell whether beat is alive, stamps each fire with the
time beat sent it (the slot follows from that), never moves a job's last_run_at backwards, and
makes sure a change committed while beat starts is not missed.
"""

import logging
import time
from datetime import UTC, datetime

from django.db.models import Q
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from vingine import heartbeat

from .services import FIRE_TASK

logger = logging.getLogger(__name__)

NEVER = datetime.min.replace(tzinfo=UTC)  # older than any change marker


class JobEntry(ModelEntry):
    def save(self) -> None:
        # Beat writes back the last_run_at it holds in memory before every reload. A replace or a
        # resume has meanwhile moved it forward (to the new schedule's start); writing the older
        # value back would fire the new schedule at once, off its slots. So it only moves forward.
        # A plain update on purpose: this is beat's own bookkeeping, which must not signal a change.
        PeriodicTask.objects.filter(pk=self.model.pk).filter(
            Q(last_run_at__isnull=True) | Q(last_run_at__lt=self.model.last_run_at)
        ).update(last_run_at=self.model.last_run_at, total_run_count=self.model.total_run_count)


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    Entry = JobEntry
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

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if entry.task == FIRE_TASK:
            # Stamp the moment beat sends the fire: the slot it belongs to follows from that, not
            # from when a worker gets to the message, so a queue delay cannot merge two slots.
            entry.kwargs = {**entry.kwargs, "fired_at": datetime.now(UTC).isoformat()}
        return super().apply_async(entry, producer, advance, **kwargs)

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
