"""With JWT_ISSUER set, a token must name that issuer."""

import os
import subprocess
import sys
import uuid

import jwt
from django.conf import settings

from tests.conftest import external_token


def test_it_accepts_an_external_token_from_the_configured_issuer(client_for, db, issuer):
    sub = str(uuid.uuid4())

    response = client_for(token=external_token(sub, iss=issuer)).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["user_id"] == sub


def test_it_rejects_a_token_from_another_issuer(client_for, db, issuer):
    response = client_for(token=external_token(str(uuid.uuid4()), iss="https://elsewhere.test")).get("/api/cron/jobs")

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_it_rejects_a_token_without_an_issuer(client_for, db, issuer):
    response = client_for(token=external_token(str(uuid.uuid4()))).get("/api/cron/jobs")

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_tokens_it_issues_carry_the_issuer_and_are_accepted(client_for, alice, issuer):
    tokens = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "pw"}, format="json").json()

    response = client_for(token=tokens["access"]).get("/api/cron/jobs")

    assert response.status_code == 200
    assert jwt.decode(tokens["access"], options={"verify_signature": False})["iss"] == issuer


def test_it_accepts_tokens_without_an_issuer_when_none_is_configured(client_for, db):
    assert settings.SIMPLE_JWT["ISSUER"] is None

    response = client_for(token=external_token(str(uuid.uuid4()))).get("/api/cron/jobs")

    assert response.status_code == 200


def test_jwt_issuer_is_read_from_the_environment():
    # The issuer fixture reconfigures a running process; this checks the variable reaches the verifier at start.
    script = (
        "import django; django.setup(); "
        "from rest_framework_simplejwt.state import token_backend; print(token_backend.issuer)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vingine.settings", "JWT_ISSUER": "https://issuer.example.test"}

    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "https://issuer.example.test"
