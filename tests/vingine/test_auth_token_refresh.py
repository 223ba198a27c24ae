"""POST /api/auth/token/refresh: a refresh token buys a new access token, nothing else does."""

from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import access_token, external_token


def test_it_exchanges_a_refresh_token_for_a_working_access_token(client_for, alice):
    refresh = str(RefreshToken.for_user(alice))

    response = client_for().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 200
    access = response.json()["access"]
    jobs = client_for(token=access).get("/api/cron/jobs")
    assert jobs.status_code == 200
    assert jobs.json()["user_id"] == "alice-uuid"


def test_it_exchanges_a_refresh_token_obtained_with_a_password(client_for, alice):
    tokens = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "pw"}, format="json").json()

    response = client_for().post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    assert client_for(token=response.json()["access"]).get("/api/cron/jobs").status_code == 200


def test_it_rejects_an_access_token_in_place_of_a_refresh_token(client_for, alice):
    response = client_for().post("/api/auth/token/refresh", {"refresh": access_token(alice)}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Token has wrong type"}


def test_it_rejects_an_external_token_in_place_of_a_refresh_token(client_for, db):
    response = client_for().post(
        "/api/auth/token/refresh", {"refresh": external_token("0d6a3c2e-8f57-4c1b-9d36-5d1c1f0e2a77")}, format="json"
    )

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_it_rejects_a_garbage_refresh_token(client_for, db):
    response = client_for().post("/api/auth/token/refresh", {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Token is invalid"}


def test_it_rejects_a_body_without_refresh(client_for, db):
    response = client_for().post("/api/auth/token/refresh", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "refresh: This field is required."}
