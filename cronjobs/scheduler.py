"""The beat scheduler class (``BEAT_SCHEDULER``).

django-celery-beat's DatabaseScheduler reads the PeriodicTask rows our services write; this
subclass adds a heartbeat so /health can tell whether beat is alive.
"""

import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

from vingine import heartbeat

logger = logging.getLogger(__name__)


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
