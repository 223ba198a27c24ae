"""Access tokens issued by this service authenticate API requests as their user."""

from tests.conftest import access_token


def test_it_accepts_a_local_access_token(client_for, alice):
    response = client_for(token=access_token(alice)).get("/api/cron/jobs")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["user_id"] == "alice-uuid"


def test_it_answers_as_the_tokens_user(client_for, alice, bob):
    response = client_for(token=access_token(bob)).get("/api/cron/jobs")

    assert response.json()["user_id"] == "bob-uuid"
