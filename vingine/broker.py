"""The only module that uses private parts of celery and kombu (the Redis transport).

Written for celery and kombu 5.7 (``WRITTEN_FOR``); tests/vingine/test_fenced_internals.py fails
when an installed version leaves that range, so this module is re-read before an upgrade lands.
What is used, and why:

- ``kombu.transport.redis.Channel._connparams`` is wrapped (``patch_redis_channel``) so a worker
  survives Redis going away while it acknowledges a message.
- ``kombu.transport.redis.Channel.conn_or_acquire`` is replaced (``patch_redis_channel``) to hand out
  one Redis client per channel instead of building one for every acknowledgement.
- ``build_messages`` uses celery's ``amqp.create_task_message`` and kombu's ``prepare_message`` /
  ``basic_publish`` with a recording ``_publish_batch``: the Redis commands of many messages are
  built ahead of time, then sent in one pipeline (``send``).
- ``waiting_task_arguments`` reads the queue's Redis lists (``_q_for_pri``, ``priority_steps``) and the
  messages workers have taken and not yet acknowledged (the ``unacked`` hash and its
  ``unacked_index`` of delivery times).

Tasks are named by string: nothing here imports a tasks module.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import kombu.transport.redis
import redis
from celery import Celery
from kombu.serialization import dumps

WRITTEN_FOR = {"celery": ("5.7.0", "5.8"), "kombu": ("5.7.0", "5.8")}  # [lowest, below) versions

SEND_BATCH = 500  # messages per Redis round trip


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


@contextmanager
def _conn_or_acquire_one_client(self, client=None) -> Iterator[redis.Redis]:
    """kombu's Redis Channel.conn_or_acquire, handing out the channel's one client rather than a new one.

    kombu (5.7.0) builds a redis-py client, about 50 µs of CPU, each time: twice per run with
    acks_late (the message recorded as taken, then acknowledged), a fifth of what a bare task costs
    the worker. A client only hands out connections of its pool, safely from any thread or greenlet;
    a pool replaced after a reconnection gets a client of its own.
    """
    if client:
        yield client
        return
    pool = self.pool
    shared = self.__dict__.get("_one_client")
    if shared is None or shared.connection_pool is not pool:
        shared = self.__dict__["_one_client"] = self._create_client()
    yield shared


def patch_redis_channel() -> None:
    kombu.transport.redis.Channel._connparams = _connparams_of_a_live_connection
    kombu.transport.redis.Channel.conn_or_acquire = _conn_or_acquire_one_client


class _Recorder:
    """Stands in for kombu's Redis publish batch: keeps the Redis commands each message would be
    sent with (``lpush`` of the serialized message onto its queue) instead of sending them."""

    def __init__(self):
        self.commands: list[tuple[str, tuple]] = []

    def add(self, name: str, *args) -> None:
        self.commands.append((name, args))


def queue_name(app: Celery, task_name: str) -> str:
    return app.amqp.router.route({}, task_name, (), {})["queue"].name


def build_messages(app: Celery, task_name: str, calls: dict[str, tuple]) -> list[tuple[str, tuple]]:
    """The Redis commands that send ``task_name(*args)`` for each task id and its arguments, in
    their order.

    Each is the message ``send_task`` would send, built by celery's amqp layer and routed by
    kombu's Redis channel exactly as a publish does (the direct exchange turned into the queue
    name, as celery does), without what makes a call cost ~0.5 ms: a repr of the arguments, a
    settings lookup and a queue declaration check per call. No time limits are in the messages:
    the worker's own (the task's declared limits) apply.
    """
    if not calls:
        return []
    amqp = app.amqp
    queue = queue_name(app, task_name)
    recorder = _Recorder()
    with app.pool.acquire(block=True) as connection:
        channel = connection.default_channel
        for task_id, args in calls.items():
            headers, properties, body, _ = amqp.create_task_message(
                task_id, task_name, args, {}, argsrepr=repr(args), kwargsrepr="{}"
            )
            content_type, content_encoding, data = dumps(body, serializer=app.conf.task_serializer)
            message = channel.prepare_message(data, 0, content_type, content_encoding, headers, properties)
            channel.basic_publish(message, exchange="", routing_key=queue, _publish_batch=recorder)
    return recorder.commands


def send(app: Celery, commands: list[tuple[str, tuple]]) -> None:
    """Send commands built by ``build_messages``: one Redis round trip per SEND_BATCH commands."""
    if not commands:
        return
    with app.pool.acquire(block=True) as connection:
        with connection.default_channel.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
            for start in range(0, len(commands), SEND_BATCH):
                for name, args in commands[start : start + SEND_BATCH]:
                    getattr(pipe, name)(*args)
                pipe.execute()


# A message carries its task's name and the repr of its arguments in plain JSON headers (the body is
# base64).
TASK_NAME = re.compile(rb'"task": "([^"]+)"')
ARGUMENTS = re.compile(rb'"argsrepr": "([^"]*)"')
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def waiting_task_arguments(app: Celery, task_names: set[str], *, taken_within: float) -> set[str]:
    """The ids (UUIDs) among the arguments of the messages of ``task_names`` that no worker is done
    with: waiting in their queue, or taken by a worker less than ``taken_within`` seconds ago and
    not acknowledged yet.

    A message taken longer ago and still not acknowledged belongs to a worker that died or is
    stuck; Redis hands it out again only after its visibility timeout.
    """
    queues = {queue_name(app, task_name) for task_name in task_names}
    names = {task_name.encode() for task_name in task_names}
    with app.pool.acquire(block=True) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as client:
            lists = [channel._q_for_pri(queue, pri) for queue in queues for pri in channel.priority_steps]
            found = [client.lrange(name, 0, -1) for name in lists]
            tags = client.zrangebyscore(channel.unacked_index_key, time.time() - taken_within, "+inf")
            if tags:
                found.append([message for message in client.hmget(channel.unacked_key, tags) if message])
    ids = set()
    for messages in found:
        for message in messages:
            name, arguments = TASK_NAME.search(message), ARGUMENTS.search(message)
            if name and arguments and name.group(1) in names:
                ids.update(match.decode() for match in UUID.findall(arguments.group(1)))
    return ids
