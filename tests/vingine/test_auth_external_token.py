"""Supabase-style tokens (HS256, sub = user UUID, aud = authenticated, no token_type/jti) are accepted."""

import uuid

from django.contrib.auth import get_user_model

from tests.conftest import external_token

User = get_user_model()


def test_it_accepts_an_external_token(client_for, db):
    sub = str(uuid.uuid4())

    response = client_for(token=external_token(sub)).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["user_id"] == sub


def test_it_creates_a_local_non_staff_user_for_a_first_seen_sub(client_for, db):
    sub = str(uuid.uuid4())

    client_for(token=external_token(sub)).get("/api/cron/jobs")

    user = User.objects.get(username=sub)
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active
    assert not user.has_usable_password()


def test_it_reuses_the_user_on_later_requests(client_for, db):
    sub = str(uuid.uuid4())
    client = client_for(token=external_token(sub))

    client.get("/api/cron/jobs")
    client.get("/api/workflows")

    assert User.objects.filter(username=sub).count() == 1


def test_it_maps_the_sub_to_an_existing_user(client_for, alice):
    response = client_for(token=external_token("alice-uuid")).get("/api/cron/jobs")

    assert response.status_code == 200
    assert response.json()["user_id"] == "alice-uuid"
    assert User.objects.filter(username="alice-uuid").count() == 1


def test_it_ignores_a_staff_claim_in_the_token(client_for, db):
    sub = str(uuid.uuid4())
    client = client_for(token=external_token(sub, role="service_role", is_staff=True))

    response = client.get("/api/cron/jobs/all")

    assert response.status_code == 403
    assert not User.objects.get(username=sub).is_staff


def test_the_user_id_of_a_saved_workflow_is_the_sub(client_for, db):
    sub = str(uuid.uuid4())
    steps = [{"type": "python", "callable": "echo"}]

    response = client_for(token=external_token(sub)).post(
        "/api/workflows", {"workflow_id": "wf-external", "steps": steps}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["workflow"]["user_id"] == sub
