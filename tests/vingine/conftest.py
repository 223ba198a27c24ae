"""Fixtures for the project-level tests: a configured JWT issuer and beat's heartbeat key."""

import pytest
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend

from vingine import heartbeat

ISSUER = "https://auth.example.test/auth/v1"


@pytest.fixture
def issuer(settings, monkeypatch) -> str:
    """Run with JWT_ISSUER configured, as a process started with that variable would.

    Changing SIMPLE_JWT makes simplejwt rebuild its ``api_settings`` (setting_changed), but the
    TokenBackend that signs and verifies is built once at import in ``rest_framework_simplejwt.state``;
    it is rebuilt here from the same settings.
    """
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": ISSUER}
    configured = jwt_settings.api_settings
    assert configured.ISSUER == ISSUER
    backend = TokenBackend(
        configured.ALGORITHM,
        configured.SIGNING_KEY,
        configured.VERIFYING_KEY,
        configured.AUDIENCE,
        configured.ISSUER,
        configured.JWK_URL,
        configured.LEEWAY,
        configured.JSON_ENCODER,
    )
    monkeypatch.setattr(state, "token_backend", backend)
    return ISSUER


@pytest.fixture
def redis():
    """The Redis that /health checks, with no beat heartbeat in it before or after the test."""
    connection = heartbeat.client()
    connection.delete(heartbeat.KEY)
    yield connection
    connection.delete(heartbeat.KEY)
