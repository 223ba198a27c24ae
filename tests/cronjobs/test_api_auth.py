"""Every /api/cron endpoint needs a valid bearer token: 401 with a ``detail`` otherwise, nothing written."""

import time

import pytest

from tests.conftest import external_token

from .helpers import CRON_BODY, INTERVAL_BODY, assert_refused, db_snapshot

pytestmark = pytest.mark.django_db

JOB = "/api/cron/jobs/daily-video-generation"
ENDPOINTS = [
    ("post", "/api/cron/jobs/cron", CRON_BODY),
    ("post", "/api/cron/jobs/interval", INTERVAL_BODY),
    ("get", "/api/cron/jobs", None),
    ("get", "/api/cron/jobs/all", None),
    ("get", JOB, None),
    ("delete", JOB, None),
    ("post", f"{JOB}/trigger", None),
    ("post", f"{JOB}/pause", None),
    ("post", f"{JOB}/resume", None),
    ("get", f"{JOB}/runs", None),
]


def call(client, method: str, path: str, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_it_refuses_a_request_without_a_token(client_for, cron_job, method, path, body):
    before = db_snapshot()

    response = call(client_for(), method, path, body)

    assert_refused(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert db_snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_it_refuses_a_token_signed_with_another_secret(client_for, cron_job, method, path, body):
    before = db_snapshot()
    client = client_for(token=external_token("alice-uuid", secret="not-the-shared-secret-0123456789abcdef"))

    response = call(client, method, path, body)

    assert_refused(response, 401)
    assert db_snapshot() == before


def test_it_refuses_an_expired_token(client_for, cron_job):
    expired = external_token("alice-uuid", exp=int(time.time()) - 60)

    assert_refused(client_for(token=expired).get(JOB), 401)


def test_it_refuses_a_token_for_another_audience(client_for, cron_job):
    token = external_token("alice-uuid", aud="someone-else")

    assert_refused(client_for(token=token).get(JOB), 401)


def test_it_serves_the_owner_with_an_external_token(client_for, cron_job):
    response = client_for(token=external_token("alice-uuid")).get(JOB)

    assert response.status_code == 200
    assert response.json()["job"]["user_id"] == "alice-uuid"
