"""GET /health: up only when database, broker, beat and a worker all are; 503 naming what is down.

No celery process runs here (the end-to-end suite starts real ones), so the worker is always down.
"""

import time

import pytest

from vingine import heartbeat

pytestmark = pytest.mark.django_db


def test_it_needs_no_token(client, redis):
    response = client.get("/health")

    assert response.status_code == 503  # down because no worker runs here, not 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["database"] == "up"


def test_it_reports_beat_and_worker_down_without_them(client, redis):
    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "up"
    assert body["broker"] == "up"
    assert body["beat"].startswith("down")
    assert body["worker"].startswith("down")
    assert body["scheduler_running"] is False
    assert body["detail"] == "Down: beat, worker"


def test_it_reports_beat_up_after_a_fresh_heartbeat(client, redis):
    heartbeat.beat(heartbeat.client())

    response = client.get("/health/")

    assert response.status_code == 503  # the worker is still down
    body = response.json()
    assert body["beat"] == "up"
    assert body["scheduler_running"] is True
    assert body["worker"].startswith("down")
    assert body["detail"] == "Down: worker"


def test_it_reports_beat_down_after_a_stale_heartbeat(client, redis, settings):
    stale = time.time() - settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS - 60
    redis.set(heartbeat.KEY, f"{stale:.3f}")

    body = client.get("/health").json()

    assert body["beat"].startswith("down: last heartbeat")
    assert body["scheduler_running"] is False


def test_a_heartbeat_expires_from_redis_on_its_own(redis, settings):
    heartbeat.beat(redis)

    # Beat stopping must not leave a key that a later beat-less deployment could read as alive.
    assert 0 < redis.ttl(heartbeat.KEY) <= settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS * 4


def test_it_reports_the_broker_down_when_redis_is_unreachable(client, redis, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/14"  # nothing listens on port 1

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "up"
    assert body["broker"].startswith("down")
    assert body["beat"].startswith("unknown")
    assert body["worker"].startswith("unknown")


def test_it_refuses_other_methods_with_the_api_error_shape(client):
    response = client.post("/health")

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}
