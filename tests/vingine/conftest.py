"""Fixtures for the project-level tests: a configured JWT issuer, beat's heartbeat key, and an
identity provider publishing its keys (JWKS)."""

import base64
import functools
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend

from tests.webhooks import Reply, WebhookServer
from vingine import heartbeat, jwks

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


@functools.cache
def provider_key(kid: str):
    """A private key of the provider's, the same all session (RSA keys take a while to make)."""
    if kid.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(kid: str, *, with_alg: bool = True) -> dict:
    """The JWKS entry of ``provider_key(kid)``: RSA keys say their alg, EC keys may leave it to the curve."""
    key = provider_key(kid).public_key()
    if kid.startswith("rsa"):
        entry = RSAAlgorithm.to_jwk(key, as_dict=True) | ({"alg": "RS256"} if with_alg else {})
    else:
        entry = ECAlgorithm.to_jwk(key, as_dict=True) | ({"alg": "ES256"} if with_alg else {})
    return entry | {"kid": kid, "use": "sig"}


def oct_jwk(kid: str, secret: bytes) -> dict:
    return {"kty": "oct", "kid": kid, "alg": "HS256", "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode()}


def provider_claims(sub: str, **overrides) -> dict:
    now = int(time.time())
    claims = {"sub": sub, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def provider_token(kid: str, sub: str = "alice-uuid", *, algorithm: str | None = None, key=None, **claims) -> str:
    """A token as the provider signs it with ``provider_key(kid)`` (or ``key``), kid in its header."""
    algorithm = algorithm or ("RS256" if kid.startswith("rsa") else "ES256")
    return jwt.encode(
        provider_claims(sub, **claims), key or provider_key(kid), algorithm=algorithm, headers={"kid": kid}
    )


class Clock:
    """jwks' monotonic clock, moved by the test instead of slept through."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Provider:
    """An identity provider's JWKS, served from a real HTTP server on 127.0.0.1."""

    PATH = "/.well-known/jwks.json"

    def __init__(self, server: WebhookServer, clock: Clock) -> None:
        self.server, self.clock = server, clock
        self.url = server.url(self.PATH)

    def publish(self, *entries: dict) -> None:
        self.server.script(self.PATH, Reply(body={"keys": list(entries)}))

    def fail(self, reply: Reply | None = None) -> None:
        self.server.script(self.PATH, reply or Reply(status=500, body="down"))

    def fetches(self) -> int:
        return len(self.server.hits(self.PATH))


@pytest.fixture(scope="session")
def _provider_server():
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
def provider(settings, monkeypatch, _provider_server):
    """JWT_JWKS_URL set to a provider publishing an RSA key (rsa-1) and an EC P-256 key (ec-1)."""
    with _provider_server._lock:
        _provider_server.received.clear()
    clock = Clock()
    monkeypatch.setattr(jwks, "time", clock)
    jwks.keys._reset(None)
    found = Provider(_provider_server, clock)
    settings.JWT_JWKS_URL = found.url
    found.publish(public_jwk("rsa-1"), public_jwk("ec-1", with_alg=False))
    yield found
    jwks.keys._reset(None)
