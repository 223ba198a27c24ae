"""A worker survives Redis going away while it is busy: a channel used after celery tore down its
broken connection fails with a connection error, which celery recovers from (it reconnects), not
with the AttributeError that made kombu 5.7.0 workers exit (vingine/celery.py)."""

import pytest
from django.conf import settings
from kombu import Connection

from vingine.celery import app


@pytest.fixture
def torn_down_channel():
    connection = Connection(settings.CELERY_BROKER_URL)
    channel = connection.default_channel
    connection.collect()  # what celery does first with a connection the broker dropped
    yield connection, channel
    connection.release()


def test_a_channel_of_a_torn_down_connection_raises_a_connection_error(torn_down_channel):
    connection, channel = torn_down_channel

    with pytest.raises(connection.connection_errors):
        with channel.conn_or_acquire():  # what acknowledging a message or closing the channel does
            pass


def test_the_worker_app_is_the_one_patched():
    # The guard is installed where `celery -A vingine` starts: importing the app installs it.
    assert app.main == "vingine"
    assert Connection(settings.CELERY_BROKER_URL).transport.Channel._connparams.__name__ == (
        "_connparams_of_a_live_connection"
    )
