"""A worker's Redis channel hands out one client for its acknowledgements rather than building one
per message (vingine.broker), and a new one once its connection pool was replaced."""

from django.conf import settings
from kombu import Connection

import vingine.celery  # noqa: F401  (installs the patches, as `celery -A vingine` does)


def test_a_channel_hands_out_one_client_until_its_pool_is_replaced():
    connection = Connection(settings.CELERY_BROKER_URL)
    try:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()

        channel._disconnect_pools()  # what kombu does when the connection to Redis is lost
        with channel.conn_or_acquire() as third:
            assert third is not first
            assert third.connection_pool is channel.pool
            assert third.ping()
    finally:
        connection.release()


def test_a_client_given_is_used_as_it_is():
    connection = Connection(settings.CELERY_BROKER_URL)
    try:
        channel = connection.default_channel
        given = channel._create_client()
        with channel.conn_or_acquire(given) as client:
            assert client is given
    finally:
        connection.release()
