"""Every token that must not authenticate is refused with 401 and a {"detail"} string, never a 5xx."""

import base64
import json
import time
import uuid

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import external_token

SUB = "5b1f7a8e-3c2d-4e6f-9a0b-1c2d3e4f5a6b"


def claims(**overrides) -> dict:
    now = int(time.time())
    payload = {"sub": SUB, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not None}


def unsigned_token(payload: dict) -> str:
    """A token with ``alg: none`` and an empty signature, as an attacker would hand-craft it."""

    def encode(part: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(payload)}."


def signed(payload: dict, *, secret: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm=algorithm)


def assert_refused(response) -> str:
    assert response.status_code == 401, response.content
    body = response.json()
    assert list(body) == ["detail"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    return body["detail"]


def get_jobs(client_for, authorization: str | None):
    client = client_for()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get("/api/cron/jobs")


def test_it_rejects_a_request_without_a_token(client_for, db):
    detail = assert_refused(get_jobs(client_for, None))

    assert detail == "Authentication credentials were not provided."


@pytest.mark.parametrize("authorization", ["", "Bearer", "Token abc", "Bearer a b", "bearer abc"])
def test_it_rejects_a_malformed_authorization_header(client_for, db, authorization):
    assert_refused(get_jobs(client_for, authorization))


def test_it_rejects_a_garbage_token(client_for, db):
    detail = assert_refused(get_jobs(client_for, "Bearer not.a.token"))

    assert "Token is invalid" in detail


def test_it_rejects_an_expired_token(client_for, db):
    token = external_token(SUB, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)

    detail = assert_refused(get_jobs(client_for, f"Bearer {token}"))

    assert "expired" in detail


def test_it_rejects_a_token_signed_with_another_secret(client_for, db):
    token = external_token(SUB, secret="some-other-secret-that-is-long-enough-for-hs256")

    assert_refused(get_jobs(client_for, f"Bearer {token}"))


def test_it_rejects_a_token_for_another_audience(client_for, db):
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(aud='anon'))}"))


def test_it_rejects_a_token_without_an_audience(client_for, db):
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(aud=None))}"))


def test_it_rejects_an_unsigned_alg_none_token(client_for, db):
    assert_refused(get_jobs(client_for, f"Bearer {unsigned_token(claims())}"))


def test_it_rejects_an_alg_none_token_that_keeps_a_real_signature(client_for, db):
    # Header swapped to alg none, the signature of a genuine token left in place.
    genuine_signature = signed(claims()).rsplit(".", 1)[1]

    assert_refused(get_jobs(client_for, f"Bearer {unsigned_token(claims())}{genuine_signature}"))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 wants a longer key
def test_it_rejects_a_token_signed_with_another_algorithm(client_for, db):
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"

    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(), algorithm='HS512')}"))


def test_it_rejects_a_refresh_token_used_as_an_access_token(client_for, alice):
    detail = assert_refused(get_jobs(client_for, f"Bearer {RefreshToken.for_user(alice)}"))

    assert "wrong type" in detail


def test_it_rejects_a_token_without_sub(client_for, db):
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(sub=None))}"))


@pytest.mark.parametrize("sub", [12345, ["a"], {"id": "a"}, True, ""])
def test_it_rejects_a_sub_that_is_not_a_usable_string(client_for, db, sub):
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(sub=sub))}"))

    assert get_user_model().objects.count() == 0


def test_it_rejects_a_sub_longer_than_a_username(client_for, db):
    detail = assert_refused(get_jobs(client_for, f"Bearer {signed(claims(sub='a' * 500))}"))

    assert "sub" in detail
    assert get_user_model().objects.count() == 0


def test_it_rejects_a_token_without_exp(client_for, db):
    # PyJWT only checks exp when present; a token that never expires must still be refused.
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(exp=None))}"))


def test_it_rejects_a_token_with_a_non_numeric_iat(client_for, db):
    assert_refused(get_jobs(client_for, f"Bearer {signed(claims(iat='yesterday'))}"))


def test_it_creates_no_user_for_a_refused_token(client_for, db):
    token = external_token(str(uuid.uuid4()), secret="some-other-secret-that-is-long-enough-for-hs256")

    get_jobs(client_for, f"Bearer {token}")

    assert get_user_model().objects.count() == 0
