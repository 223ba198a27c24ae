"""Fixtures for the workflow tests: the broker's default queue, empty before and after each test."""

import base64
import json

import pytest
import redis as redis_lib
from django.conf import settings

from tests.broker_messages import sent_run_ids
from workflows.steps import python as callables

QUEUE = "celery"  # Celery's default queue; workflows.tasks.execute_run is not routed elsewhere


@pytest.fixture
def broker():
    connection = redis_lib.Redis.from_url(settings.REDIS_URL)
    connection.delete(QUEUE)
    yield connection
    connection.delete(QUEUE)
    connection.close()


def published_tasks(connection) -> list[tuple[str, list]]:
    """(task name, positional args) of every message waiting in the default queue."""
    tasks = []
    for raw in connection.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def queued_run_ids(connection) -> list[str]:
    """The runs the messages waiting in the default queue hand over, in the order they were sent."""
    return sent_run_ids([json.loads(raw) for raw in connection.lrange(QUEUE, 0, -1)])


@pytest.fixture
def register_callable():
    """Register a callable for one test, the way operators add theirs, and remove it afterwards."""
    added = []

    def register(name: str, fn):
        callables.register(name)(fn)
        added.append(name)

    yield register
    for name in added:
        del callables.REGISTRY[name]
