"""A deactivated user is locked out, whichever kind of token they hold."""

from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import access_token, external_token


def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def test_it_rejects_a_local_token_of_an_inactive_user(client_for, alice):
    token = access_token(alice)
    deactivate(alice)

    response = client_for(token=token).get("/api/cron/jobs")

    assert response.status_code == 401
    assert response.json() == {"detail": "User is inactive"}


def test_it_rejects_an_external_token_of_an_inactive_user(client_for, alice):
    deactivate(alice)

    response = client_for(token=external_token("alice-uuid")).get("/api/cron/jobs")

    assert response.status_code == 401
    assert response.json() == {"detail": "User is inactive"}


def test_it_refuses_to_issue_tokens_to_an_inactive_user(client_for, alice):
    deactivate(alice)

    response = client_for().post("/api/auth/token", {"username": "alice-uuid", "password": "pw"}, format="json")

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_it_refuses_to_refresh_for_an_inactive_user(client_for, alice):
    refresh = str(RefreshToken.for_user(alice))
    deactivate(alice)

    response = client_for().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found for the given token."}


def test_it_refuses_to_refresh_for_a_deleted_user(client_for, alice):
    refresh = str(RefreshToken.for_user(alice))
    alice.delete()

    response = client_for().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found for the given token."}
