import os

import kombu.connection
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


def _close_channel_of_a_lost_connection(connection, channel) -> None:
    """kombu's Connection.maybe_close_channel, also ignoring AttributeError.

    When Redis goes away while a worker is acknowledging messages, celery (5.7.0) first collects
    the broken connection, which tears down its transport, then closes it. Closing its channel then
    tries to hand the channel's unacknowledged messages back through that torn-down transport and
    raises AttributeError ('NoneType' object has no attribute 'hostname'), which celery does not
    take for a connection error: the worker exits ("Unrecoverable error"). Seen under `make chaos`
    on Redis restarts. Nothing can be handed back to a Redis that is gone; the scheduler's sweeper
    sends such runs again.
    """
    try:
        channel.close()
    except (*connection.connection_errors, *connection.channel_errors, AttributeError):
        pass


kombu.connection.Connection.maybe_close_channel = _close_channel_of_a_lost_connection
