"""Liveness signals in Redis.

- Beat writes a timestamp on every tick; /health reads it.
- Each worker writes a key of its own every few seconds, from a thread of its main process. A run
  records the worker that took it, and the reaper fails a ``running`` run whose worker has gone
  quiet (``workflows.services.runs_reap_lost``): a worker killed outright (kill -9, out of memory,
  its machine lost) says nothing when it dies, and its run would otherwise wait for the run time
  limit to pass.
"""

import logging
import threading
import time
import uuid

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "vingine:beat:heartbeat"
WORKER_KEY = "vingine:worker:{}"
WORKER_EVERY = 5.0  # seconds between a worker's heartbeats

# This worker's name for its runs: its node name and a random part, so that a worker restarted
# under the same name (a container's) is not taken for the one that died. Set in the worker's main
# process before it starts its pool, whose processes inherit it; None outside a worker.
worker_id: str | None = None


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def beat(connection: redis.Redis) -> None:
    connection.set(KEY, f"{time.time():.3f}", ex=settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS * 4)


def age_seconds(connection: redis.Redis) -> float | None:
    value = connection.get(KEY)
    return None if value is None else max(0.0, time.time() - float(value))


def worker_starting(hostname: str) -> None:
    global worker_id
    worker_id = f"{hostname}/{uuid.uuid4().hex[:12]}"


def worker_ready() -> None:
    """Start the heartbeat thread (daemon: it ends with the worker)."""
    if worker_id is not None:
        threading.Thread(target=_worker_beats, args=(worker_id,), name="vingine-heartbeat", daemon=True).start()


def _worker_beats(name: str) -> None:
    connection = client()
    failing = False
    while True:
        try:
            connection.set(WORKER_KEY.format(name), f"{time.time():.3f}", ex=settings.WORKER_LOST_AFTER_SECONDS)
            if failing:
                logger.warning("worker heartbeat written again")
            failing = False
        except Exception as exc:  # Redis down: the worker goes on; its runs are safe until it is back
            if not failing:
                logger.warning("worker heartbeat not written: %r", exc)
            failing = True
        time.sleep(WORKER_EVERY)


def workers_alive(names: list[str], connection: redis.Redis) -> set[str] | None:
    """Those of ``names`` that wrote a heartbeat within WORKER_LOST_AFTER_SECONDS.

    None when that cannot be told: Redis restarted more recently than that (it keeps nothing on
    disk, so every worker's key is gone until its next heartbeat).
    """
    if connection.info("server")["uptime_in_seconds"] < settings.WORKER_LOST_AFTER_SECONDS + WORKER_EVERY:
        return None
    values = connection.mget([WORKER_KEY.format(name) for name in names])
    return {name for name, value in zip(names, values, strict=True) if value is not None}
