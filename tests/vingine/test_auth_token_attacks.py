"""Forged, stale and malformed tokens naming a real user: each is a 401 {"detail"} and writes nothing.

Every token here claims to be alice, who owns a workflow and a job: a token that got through would
let its maker read, pause or delete them. Each is sent to a read, a write and a delete, and to the
refresh endpoint, and the database must be exactly as before.
"""

import base64
import functools
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from cronjobs import schedules
from tests.snapshots import snapshot
from tests.vingine.conftest import oct_jwk, provider_key, provider_token, public_jwk
from vingine.auth import MAX_TOKEN_BYTES

SUB = "alice-uuid"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**overrides) -> dict:
    now = int(time.time())
    payload = {"sub": SUB, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not None}


def secret() -> bytes:
    return settings.SIMPLE_JWT["SIGNING_KEY"].encode()


def hs256(header: dict, payload: bytes | dict, key: bytes | None = None) -> str:
    """Signed by hand, so header and payload can hold what PyJWT would refuse to write."""
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    signature = hmac.new(key or secret(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def genuine() -> str:
    return hs256({"alg": "HS256", "typ": "JWT"}, claims())


@functools.cache
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unsigned(alg: str) -> str:
    return f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}."


def with_header(alg: str) -> str:
    """A genuine HS256 token whose header is swapped for another algorithm, signature kept."""
    _, payload, signature = genuine().split(".")
    return f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{payload}.{signature}"


def public_key_as_hmac_secret() -> str:
    """The classic HS/RS confusion: HS256 keyed with the PEM of an RSA public key."""
    pem = (
        rsa_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return hs256({"alg": "HS256", "typ": "JWT"}, claims(), key=pem)


def tampered() -> str:
    header, _, signature = genuine().split(".")
    return f"{header}.{b64(json.dumps(claims(role='service_role', sub='operator')).encode())}.{signature}"


def signed(**overrides) -> str:
    return hs256({"alg": "HS256", "typ": "JWT"}, claims(**overrides))


def raw_payload(text: str) -> str:
    return hs256({"alg": "HS256", "typ": "JWT"}, text.encode())


NOW = int(time.time())
ATTACKS = {
    # alg none, however spelt, with and without a signature left in place
    "alg none": lambda: unsigned("none"),
    "alg None": lambda: unsigned("None"),
    "alg NONE": lambda: unsigned("NONE"),
    "alg none with a genuine signature": lambda: with_header("none"),
    # algorithm confusion
    "RS256 signed with a fresh key": lambda: jwt.encode(claims(), rsa_key(), algorithm="RS256"),
    "ES256 signed with a fresh key": lambda: jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), "ES256"),
    "HS256 keyed with an RSA public key": public_key_as_hmac_secret,
    "RS256 header over an HS256 signature": lambda: with_header("RS256"),
    "HS512 header over an HS256 signature": lambda: with_header("HS512"),
    "HS256 with another secret": lambda: hs256({"alg": "HS256"}, claims(), key=b"another-secret-" * 4),
    # time claims
    "expired": lambda: signed(iat=NOW - 7200, exp=NOW - 3600),
    "no exp": lambda: signed(exp=None),
    "exp past year 9999": lambda: raw_payload(f'{{"sub": "{SUB}", "aud": "authenticated", "exp": 1e20}}'),
    "exp not a number": lambda: signed(exp="tomorrow"),
    "iat in the future": lambda: signed(iat=NOW + 3600, exp=NOW + 7200),
    "iat a boolean": lambda: signed(iat=True),
    "nbf in the future": lambda: signed(nbf=NOW + 3600),
    # audience
    "wrong aud": lambda: signed(aud="anon"),
    "no aud": lambda: signed(aud=None),
    "aud a number": lambda: signed(aud=5),
    # type
    "refresh token as access": lambda: signed(token_type="refresh", jti="abc"),
    "token_type not a string": lambda: signed(token_type=["access"]),
    # shape
    "tampered payload": tampered,
    "oversized": lambda: signed(padding="x" * 64 * 1024),
    "just over the size limit": lambda: signed(padding="x" * MAX_TOKEN_BYTES),
    "garbage": lambda: "not-a-token",
    "two segments": lambda: ".".join(genuine().split(".")[:2]),
    "four segments": lambda: genuine() + ".extra",
    "empty segments": lambda: "..",
    "payload not base64": lambda: genuine().split(".")[0] + ".!!!." + genuine().split(".")[2],
    "payload not UTF-8": lambda: hs256({"alg": "HS256", "typ": "JWT"}, b"\xff\xfe"),
    "payload a JSON array": lambda: raw_payload("[1, 2]"),
    "payload deeply nested": lambda: raw_payload('{"a": ' + "[" * 1000 + "]" * 1000 + "}"),
    # sub
    "no sub": lambda: signed(sub=None),
    "sub a number": lambda: signed(sub=12345),
    "sub a list": lambda: signed(sub=[SUB]),
    "sub empty": lambda: signed(sub=""),
    "sub blank": lambda: signed(sub="   "),
    "sub longer than a username": lambda: signed(sub="a" * 151),
    "sub with NUL": lambda: signed(sub="alice\x00"),
    "sub with a newline": lambda: signed(sub="alice\nuuid"),
    "sub a lone surrogate": lambda: raw_payload(f'{{"sub": "\\ud800", "aud": "authenticated", "exp": {NOW + 60}}}'),
}


@pytest.fixture
def alice_job(make_job, workflow):
    """Alice's workflow and job, which a forged token for her would reach."""
    return make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), job_id="daily-video-generation")


def assert_refused(response) -> None:
    assert response.status_code == 401, (response.status_code, response.content[:300])
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"]


def test_a_genuine_token_is_accepted(client_for, alice_job):
    # The hand-signing above is right: the same construction with nothing wrong gets in.
    response = client_for(token=genuine()).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["total_jobs"] == 1


@pytest.mark.parametrize("attack", ATTACKS)
def test_it_refuses_a_forged_or_broken_token(client_for, alice_job, attack):
    token = ATTACKS[attack]()
    before = snapshot()

    client = client_for(token=token)
    assert_refused(client.get("/api/cron/jobs"))
    assert_refused(client.delete("/api/cron/jobs/daily-video-generation"))
    assert_refused(client.post("/api/cron/jobs/daily-video-generation/pause"))
    assert_refused(client.post("/api/workflows", {"workflow_id": "w", "steps": []}, format="json"))

    assert snapshot() == before


@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "RS256 signed with a fresh key",
        "HS256 keyed with an RSA public key",
        "tampered payload",
        "exp past year 9999",
        "oversized",
        "sub with NUL",
        "sub a lone surrogate",
        "garbage",
    ],
)
def test_the_refresh_endpoint_refuses_it_too(client_for, alice_job, attack):
    overrides = {"token_type": "refresh", "jti": "0123456789abcdef"}
    token = ATTACKS[attack]()
    if attack in {"alg none", "tampered payload"}:  # payload rebuilt as a refresh token, signature still wrong
        header, _, signature = token.split(".")
        token = f"{header}.{b64(json.dumps(claims(**overrides)).encode())}.{signature}"
    before = snapshot()

    response = client_for().post("/api/auth/token/refresh", {"refresh": token}, format="json")

    assert_refused(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    "overrides",
    [{"exp": 10**20}, {"sub": "alice\x00"}, {"sub": "   "}, {"sub": "a" * 151}, {"padding": "x" * MAX_TOKEN_BYTES}],
    ids=["exp past year 9999", "sub with NUL", "sub blank", "sub too long", "oversized"],
)
def test_the_refresh_endpoint_refuses_a_well_signed_refresh_token_with_a_bad_claim(client_for, alice_job, overrides):
    token = signed(token_type="refresh", jti="0123456789abcdef", **overrides)
    before = snapshot()

    assert_refused(client_for().post("/api/auth/token/refresh", {"refresh": token}, format="json"))
    assert snapshot() == before


def test_a_genuine_refresh_token_still_refreshes(client_for, alice):
    response = client_for().post(
        "/api/auth/token/refresh", {"refresh": str(RefreshToken.for_user(alice))}, format="json"
    )

    assert response.status_code == 200
    assert client_for(token=response.json()["access"]).get("/api/cron/jobs").status_code == 200


@pytest.mark.parametrize("header", [b"Bearer \xff\xfe\xfd", "Bearer é.é.é", "Bearer \x00", "Bearer " + "a" * 70000])
def test_it_refuses_an_authorization_header_that_is_not_a_token(client_for, alice_job, header):
    before = snapshot()

    response = client_for().get("/api/cron/jobs", HTTP_AUTHORIZATION=header)

    assert_refused(response)
    assert snapshot() == before


@pytest.mark.parametrize("iss", ["https://elsewhere.test", None])
def test_with_an_issuer_configured_it_refuses_a_token_from_another_or_no_issuer(client_for, alice_job, issuer, iss):
    token = signed(iss=iss)
    before = snapshot()

    client = client_for(token=token)
    assert_refused(client.get("/api/cron/jobs"))
    assert_refused(client.delete("/api/cron/jobs/daily-video-generation"))

    assert snapshot() == before
    assert client_for(token=signed(iss=issuer)).get("/api/cron/jobs").status_code == 200


# With an identity provider's JWKS configured (JWT_JWKS_URL), the tokens above are still refused, and
# so are these, aimed at the keys it publishes: alice's provider publishes rsa-1 (RSA), ec-1 (EC
# P-256) and a symmetric key, oct-1, that must never verify anything.
OCT_SECRET = b"a-secret-the-provider-published-" * 2


def pem_as_hmac_secret(kid: str) -> str:
    pem = (
        provider_key(kid)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return hs256({"alg": "HS256", "typ": "JWT", "kid": kid}, claims(), key=pem)


JWKS_ATTACKS = {
    # kid confusion: the header names one key, the signature is another's
    "ES256 token naming the RSA key": lambda: provider_token("rsa-1", algorithm="ES256", key=provider_key("ec-1")),
    "RS256 token naming the EC key": lambda: provider_token("ec-1", algorithm="RS256", key=provider_key("rsa-1")),
    "RS256 signed with a fresh key under a published kid": lambda: provider_token("rsa-1", key=rsa_key()),
    "PS256 with the published RSA key": lambda: provider_token("rsa-1", algorithm="PS256"),
    "HS256 naming the RSA key, keyed with its public PEM": lambda: pem_as_hmac_secret("rsa-1"),
    "HS256 naming the EC key, keyed with its public PEM": lambda: pem_as_hmac_secret("ec-1"),
    # a key swapped for a symmetric one: the JWKS's oct key, used as an HMAC secret
    "HS256 signed with the published oct key": lambda: hs256({"alg": "HS256", "kid": "oct-1"}, claims(), OCT_SECRET),
    "RS256 header over the oct key's HMAC": lambda: hs256({"alg": "RS256", "kid": "oct-1"}, claims(), OCT_SECRET),
    # no key, or a made-up one
    "RS256 with no kid": lambda: jwt.encode(claims(), provider_key("rsa-1"), algorithm="RS256"),
    "kid not published": lambda: provider_token("rsa-unpublished", key=provider_key("rsa-1")),
    "kid not a string": lambda: ".".join(
        [b64(json.dumps({"alg": "RS256", "kid": 7}).encode()), *provider_token("rsa-1").split(".")[1:]]
    ),
    "alg none with a published kid": lambda: (
        f"{b64(json.dumps({'alg': 'none', 'kid': 'rsa-1'}).encode())}.{b64(json.dumps(claims()).encode())}."
    ),
    # genuine signatures, bad claims
    "provider's, expired": lambda: provider_token("rsa-1", SUB, iat=NOW - 7200, exp=NOW - 3600),
    "provider's, no exp": lambda: provider_token("rsa-1", SUB, exp=None),
    "provider's, wrong aud": lambda: provider_token("ec-1", SUB, aud="anon"),
    "provider's, refresh token as access": lambda: provider_token("rsa-1", SUB, token_type="refresh", jti="abc"),
    "provider's, sub with NUL": lambda: provider_token("rsa-1", "alice\x00"),
    "provider's, tampered payload": lambda: ".".join(
        [
            provider_token("rsa-1").split(".")[0],
            b64(json.dumps(claims(sub="operator")).encode()),
            provider_token("rsa-1").split(".")[2],
        ]
    ),
}


@pytest.fixture
def published(provider):
    provider.publish(public_jwk("rsa-1"), public_jwk("ec-1"), oct_jwk("oct-1", OCT_SECRET))
    return provider


def test_a_genuine_provider_token_is_accepted(client_for, alice_job, published):
    response = client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["total_jobs"] == 1


@pytest.mark.parametrize("attack", [*JWKS_ATTACKS, *ATTACKS])
def test_with_a_jwks_it_refuses_a_forged_or_broken_token(client_for, alice_job, published, attack):
    token = (JWKS_ATTACKS.get(attack) or ATTACKS[attack])()
    before = snapshot()

    client = client_for(token=token)
    assert_refused(client.get("/api/cron/jobs"))
    assert_refused(client.delete("/api/cron/jobs/daily-video-generation"))
    assert_refused(client.post("/api/cron/jobs/daily-video-generation/pause"))

    assert snapshot() == before


@pytest.mark.parametrize("attack", ["kid not published", "RS256 header over the oct key's HMAC", "provider's, expired"])
def test_with_the_jwks_down_a_token_is_never_accepted_nor_a_500(client_for, alice_job, provider, attack):
    provider.fail()
    before = snapshot()

    for response in (
        client_for(token=JWKS_ATTACKS[attack]()).get("/api/cron/jobs"),
        client_for(token=JWKS_ATTACKS[attack]()).delete("/api/cron/jobs/daily-video-generation"),
    ):
        assert response.status_code in (401, 503), (response.status_code, response.content[:300])
        assert list(response.json()) == ["detail"]
    assert snapshot() == before
