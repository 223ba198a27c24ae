import os

import kombu.transport.redis
import redis
from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")

app = Celery("vingine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Connected here, where `celery -A vingine` starts, so that they are in place before the worker
# sends them. worker_init comes before the pool starts: its processes inherit the worker's id.
@signals.worker_init.connect
def _worker_init(sender, **kwargs) -> None:
    from . import heartbeat

    heartbeat.worker_starting(getattr(sender, "hostname", None) or "worker")


@signals.worker_ready.connect
def _worker_ready(sender, **kwargs) -> None:
    from . import heartbeat

    heartbeat.worker_ready()


_redis_connparams = kombu.transport.redis.Channel._connparams


def _connparams_of_a_live_connection(self, asynchronous=False):
    """kombu's Redis Channel._connparams, refusing with a connection error once the connection is gone.

    When Redis goes away under a busy worker, celery (5.7.0) tears down the broken connection's
    transport, yet the channel is still used afterwards: to acknowledge a run that has just ended,
    or to hand unacknowledged messages back when the channel is closed. Opening a Redis client then
    fails on the missing transport with AttributeError ('NoneType' object has no attribute
    'hostname'), which celery does not take for a connection error: the worker exits
    ("Unrecoverable error"; seen under `make chaos` on Redis restarts). As a connection error it is
    logged and celery reconnects. A message left unacknowledged this way is handed out again later
    and finds its run already done.
    """
    transport = self.connection
    if transport is None or transport.client is None:
        raise redis.exceptions.ConnectionError("the connection to the broker was closed")
    return _redis_connparams(self, asynchronous=asynchronous)


kombu.transport.redis.Channel._connparams = _connparams_of_a_live_connection
