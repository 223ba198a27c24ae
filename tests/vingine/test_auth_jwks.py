"""An identity provider's RS256/ES256 tokens, verified with the keys it publishes (JWT_JWKS_URL)."""

import logging
import uuid

from django.contrib.auth import get_user_model

from tests.conftest import access_token, external_token
from tests.vingine.conftest import provider_key, provider_token, public_jwk
from tests.webhooks import Reply

User = get_user_model()


def test_it_accepts_an_rs256_token_and_maps_its_sub_to_a_user(client_for, db, provider):
    sub = str(uuid.uuid4())

    response = client_for(token=provider_token("rsa-1", sub)).get("/api/cron/jobs")

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == sub
    user = User.objects.get(username=sub)
    assert not user.is_staff and not user.has_usable_password()


def test_it_accepts_an_es256_token_whose_key_names_no_alg(client_for, alice, provider):
    response = client_for(token=provider_token("ec-1")).get("/api/cron/jobs")

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == "alice-uuid"


def test_hs256_tokens_keep_working_beside_the_jwks(client_for, alice, provider):
    assert client_for(token=external_token("alice-uuid")).get("/api/cron/jobs").status_code == 200
    assert client_for(alice).get("/api/cron/jobs").status_code == 200
    assert client_for(token=access_token(alice)).get("/api/workflows").status_code == 200
    assert provider.fetches() == 0  # HS tokens never ask the provider


def test_it_fetches_the_keys_once_and_keeps_them(client_for, alice, provider):
    for _ in range(3):
        assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 200
    assert client_for(token=provider_token("ec-1")).get("/api/cron/jobs").status_code == 200

    assert provider.fetches() == 1


def test_it_fetches_them_again_once_they_are_old(client_for, alice, provider, settings):
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.clock.advance(settings.JWT_JWKS_CACHE_SECONDS)

    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 200
    assert provider.fetches() == 2


def test_a_token_of_a_new_key_fetches_the_keys_again_and_is_accepted(client_for, alice, provider, settings):
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.publish(public_jwk("rsa-1"), public_jwk("rsa-2"))  # the provider rotates
    provider.clock.advance(settings.JWT_JWKS_REFETCH_SECONDS)

    response = client_for(token=provider_token("rsa-2")).get("/api/cron/jobs")

    assert response.status_code == 200, response.content
    assert provider.fetches() == 2


def test_unknown_key_ids_fetch_the_keys_at_most_once_per_refetch_interval(client_for, alice, provider, settings):
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.clock.advance(settings.JWT_JWKS_REFETCH_SECONDS)

    for number in range(5):
        made_up = provider_token(f"rsa-made-up-{number}", key=provider_key("rsa-1"))
        assert client_for(token=made_up).get("/api/cron/jobs").status_code == 401
        assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 200

    assert provider.fetches() == 2


def test_a_key_no_longer_published_is_refused_after_the_next_fetch(client_for, alice, provider, settings):
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.publish(public_jwk("ec-1"))
    provider.clock.advance(settings.JWT_JWKS_CACHE_SECONDS)

    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 401


def test_a_known_key_keeps_verifying_while_the_provider_is_down(client_for, alice, provider, settings, caplog):
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.fail()
    provider.clock.advance(settings.JWT_JWKS_CACHE_SECONDS)

    with caplog.at_level(logging.WARNING, logger="vingine.jwks"):
        response = client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")

    assert response.status_code == 200
    assert provider.fetches() == 2
    assert "JWKS not fetched" in caplog.text


def test_an_unknown_key_while_the_provider_is_down_is_a_503_with_retry_after(client_for, alice, provider, settings):
    provider.fail()

    response = client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")

    assert response.status_code == 503
    assert list(response.json()) == ["detail"]
    assert "signing keys" in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= settings.JWT_JWKS_REFETCH_SECONDS
    # Asked again within the interval, it answers the same without calling the provider again.
    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 503
    assert provider.fetches() == 1


def test_it_recovers_once_the_provider_is_back(client_for, alice, provider, settings):
    provider.fail()
    client_for(token=provider_token("rsa-1")).get("/api/cron/jobs")
    provider.publish(public_jwk("rsa-1"))
    provider.clock.advance(settings.JWT_JWKS_REFETCH_SECONDS)

    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 200


def test_a_jwks_that_is_not_a_key_set_counts_as_down(client_for, alice, provider):
    provider.fail(Reply(body="<html>maintenance</html>"))

    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 503


def test_without_jwt_jwks_url_an_rs256_token_is_refused(client_for, alice, provider, settings):
    settings.JWT_JWKS_URL = None

    assert client_for(token=provider_token("rsa-1")).get("/api/cron/jobs").status_code == 401
    assert provider.fetches() == 0


def test_a_provider_token_is_checked_against_the_issuer(client_for, alice, provider, issuer):
    def status(token: str) -> int:
        return client_for(token=token).get("/api/cron/jobs").status_code

    assert status(provider_token("rsa-1", iss="https://elsewhere.test")) == 401
    assert status(provider_token("rsa-1")) == 401
    assert status(provider_token("rsa-1", iss=issuer)) == 200
