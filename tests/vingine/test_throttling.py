"""Rate limits: failed sign-ins per username and per address, and each signed-in user's requests."""

import logging

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from vingine import throttling
from vingine.models import ApiRateLimit

WRONG = {"username": "alice-uuid", "password": "wrong"}
RIGHT = {"username": "alice-uuid", "password": "pw"}


@pytest.fixture
def limits(settings):
    settings.LOGIN_MAX_FAILURES_PER_USERNAME = 3
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    return settings


def sign_in(client, body, **extra):
    return client.post("/api/auth/token", body, format="json", **extra)


def assert_throttled(response, window: int) -> None:
    assert response.status_code == 429, (response.status_code, response.content[:300])
    assert list(response.json()) == ["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= window


def test_too_many_failures_for_a_username_are_refused_even_with_the_right_password(client_for, alice, limits, caplog):
    client = client_for()
    for _ in range(3):
        assert sign_in(client, WRONG).status_code == 401

    with caplog.at_level(logging.WARNING, logger="vingine.throttling"):
        response = sign_in(client, RIGHT)

    assert_throttled(response, limits.LOGIN_FAILURE_WINDOW_SECONDS)
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert "'alice-uuid'" in caplog.text and "127.0.0.1" in caplog.text


def test_the_username_limit_holds_from_another_address(client_for, alice, limits):
    client = client_for()
    for _ in range(3):
        sign_in(client, WRONG, REMOTE_ADDR="10.0.0.1")

    assert sign_in(client, RIGHT, REMOTE_ADDR="10.0.0.2").status_code == 429


def test_too_many_failures_from_an_address_are_refused_for_any_username(client_for, alice, limits):
    client = client_for()
    for number in range(5):
        assert sign_in(client, {"username": f"guess-{number}", "password": "x"}).status_code == 401

    assert sign_in(client, RIGHT).status_code == 429
    assert sign_in(client, RIGHT, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_addresses_of_one_ipv6_subnet_count_together(client_for, alice, limits):
    client = client_for()
    for number in range(5):
        sign_in(client, {"username": f"guess-{number}", "password": "x"}, REMOTE_ADDR=f"2001:db8:1:2::{number + 1}")

    assert sign_in(client, RIGHT, REMOTE_ADDR="2001:db8:1:2::ff").status_code == 429
    assert sign_in(client, RIGHT, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_a_successful_sign_in_starts_the_username_afresh(client_for, alice, limits):
    client = client_for()
    for _ in range(2):
        sign_in(client, WRONG)
    assert sign_in(client, RIGHT).status_code == 200

    for _ in range(2):
        assert sign_in(client, WRONG).status_code == 401
    assert sign_in(client, RIGHT).status_code == 200


def test_a_bad_request_is_not_a_failed_sign_in(client_for, alice, limits):
    client = client_for()
    for _ in range(5):
        assert sign_in(client, {"username": "alice-uuid"}).status_code == 400

    assert sign_in(client, RIGHT).status_code == 200


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(client_for, alice, limits):
    client = client_for()
    for number in range(5):
        sign_in(client, {"username": f"guess-{number}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.1.0.{number}")

    assert sign_in(client, RIGHT, HTTP_X_FORWARDED_FOR="10.1.0.99").status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(client_for, alice, limits):
    limits.TRUSTED_PROXY_COUNT = 1
    client = client_for()
    for number in range(5):
        # The client wrote the first entry itself; the proxy appended the address it saw.
        forwarded = f"1.2.3.{number}, 10.1.0.7"
        sign_in(client, {"username": f"guess-{number}", "password": "x"}, HTTP_X_FORWARDED_FOR=forwarded)

    assert sign_in(client, RIGHT, HTTP_X_FORWARDED_FOR="10.1.0.7").status_code == 429
    assert sign_in(client, RIGHT, HTTP_X_FORWARDED_FOR="10.1.0.8").status_code == 200


def test_the_admin_login_is_limited_and_shares_the_counts_with_the_api(client_for, operator, limits):
    browser = Client()
    for _ in range(2):
        assert sign_in(client_for(), {"username": "operator", "password": "wrong"}).status_code == 401
    assert browser.post("/admin/login/", {"username": "operator", "password": "wrong"}).status_code == 200

    response = browser.post("/admin/login/", {"username": "operator", "password": "pw"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= limits.LOGIN_FAILURE_WINDOW_SECONDS
    assert sign_in(client_for(), {"username": "operator", "password": "pw"}).status_code == 429


def test_the_admin_login_still_signs_in(operator, limits):
    browser = Client()
    browser.post("/admin/login/", {"username": "operator", "password": "wrong"})

    response = browser.post("/admin/login/", {"username": "operator", "password": "pw"})

    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_a_user_beyond_the_rate_limit_gets_a_429_with_retry_after(api, bob, client_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert api.get("/api/cron/jobs").status_code == 200

    response = api.get("/api/workflows")

    assert_throttled(response, 60)
    assert response.json()["detail"].startswith("Too many requests from this user. Try again in ")
    assert client_for(bob).get("/api/cron/jobs").status_code == 200  # each user has their own count


def test_an_operator_sets_a_users_own_limit(api, alice, bob, client_for, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    ApiRateLimit.objects.create(owner=alice, requests_per_minute=5)
    ApiRateLimit.objects.create(owner=bob, requests_per_minute=1)

    assert [api.get("/api/cron/jobs").status_code for _ in range(6)] == [200] * 5 + [429]
    bobs = client_for(bob)
    assert [bobs.get("/api/cron/jobs").status_code for _ in range(2)] == [200, 429]


def test_an_own_limit_applies_even_with_the_default_off(api, alice, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    ApiRateLimit.objects.create(owner=alice, requests_per_minute=1)

    assert [api.get("/api/cron/jobs").status_code for _ in range(2)] == [200, 429]


def test_requests_without_a_token_are_401_not_counted(client_for, db, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1

    assert [client_for().get("/api/cron/jobs").status_code for _ in range(3)] == [401] * 3


def test_with_redis_unreachable_nothing_is_limited_and_nothing_fails(api, alice, client_for, limits, caplog):
    limits.API_RATE_LIMIT_PER_MINUTE = 1
    limits.REDIS_URL = "redis://127.0.0.1:1/0"

    with caplog.at_level(logging.WARNING, logger="vingine.throttling"):
        assert [api.get("/api/cron/jobs").status_code for _ in range(3)] == [200] * 3
        assert [sign_in(client_for(), WRONG).status_code for _ in range(5)] == [401] * 5
        assert sign_in(client_for(), RIGHT).status_code == 200

    assert "Redis is unreachable" in caplog.text
    assert caplog.text.count("Redis is unreachable") == 1  # then left alone for a few seconds


def test_the_counters_live_in_redis_where_every_process_reads_them(client_for, alice, limits):
    sign_in(client_for(), WRONG)
    throttling._connection.cache_clear()  # as a process that has never counted anything

    for _ in range(2):
        sign_in(client_for(), WRONG)

    assert sign_in(client_for(), RIGHT).status_code == 429


def test_the_schema_documents_429_with_retry_after_on_every_signed_in_operation_and_sign_in():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    documented = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            throttled = operation["responses"].get("429")
            if throttled:
                assert throttled["headers"]["Retry-After"]["schema"]["type"] == "integer"
                assert throttled["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                documented.add((method, path))
            elif path != "/api/auth/token/refresh":
                raise AssertionError(f"{method} {path} documents no 429")
    assert ("post", "/api/auth/token") in documented
    assert ("get", "/api/cron/jobs") in documented
