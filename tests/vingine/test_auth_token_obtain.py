"""POST /api/auth/token: a username and password buy an access and a refresh token."""

import jwt
from django.conf import settings


def test_it_issues_an_access_and_a_refresh_token(client_for, alice):
    response = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "pw"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    access = jwt.decode(
        body["access"], settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"], audience="authenticated"
    )
    assert access["sub"] == "alice-uuid"
    assert access["token_type"] == "access"
    refresh = jwt.decode(
        body["refresh"], settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"], audience="authenticated"
    )
    assert refresh["token_type"] == "refresh"


def test_the_issued_access_token_opens_the_api(client_for, alice):
    tokens = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "pw"}, format="json").json()

    response = client_for(token=tokens["access"]).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["user_id"] == "alice-uuid"


def test_it_accepts_a_trailing_slash(client_for, alice):
    response = client_for().post("/api/auth/token/", {"username": "alice-uuid", "password": "pw"}, format="json")

    assert response.status_code == 200


def test_it_rejects_a_wrong_password(client_for, alice):
    response = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "nope"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found with the given credentials"}


def test_it_rejects_an_unknown_user(client_for, db):
    response = client_for().post("/api/auth/token", {"username": "nobody", "password": "pw"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found with the given credentials"}


def test_it_rejects_a_body_without_username_and_password(client_for, db):
    response = client_for().post("/api/auth/token", {}, format="json")

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "username: This field is required." in detail
    assert "password: This field is required." in detail


def test_it_rejects_a_body_without_password(client_for, alice):
    response = client_for().post("/api/auth/token", {"username": "alice-uuid"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "password: This field is required."}
