"""`manage.py check --deploy` is clean with the production settings of docs/operations.md, and the
defaults stay plain HTTP so `make run` and the tests work on localhost."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

# The "Production settings" of docs/operations.md, behind a proxy that ends TLS.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "vingine.example.com",
    "SECURE_SSL": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "BEHIND_TLS_PROXY": "true",
}
SECURITY_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "BEHIND_TLS_PROXY",
)


def check_deploy(**variables: str) -> subprocess.CompletedProcess:
    # The suite's own DATABASE_URL and REDIS_URL pass through; nothing else of the caller's settings.
    env = {name: value for name, value in os.environ.items() if name not in SECURITY_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="vingine.settings", **variables)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_settings_pass_the_deploy_check():
    result = check_deploy(**PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_https_the_deploy_check_fails():
    result = check_deploy(**{**PRODUCTION, "SECURE_SSL": "false"})

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr, warning


def test_the_defaults_serve_plain_http():
    assert not settings.SECURE_SSL_REDIRECT
    assert not settings.SESSION_COOKIE_SECURE and not settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0
    assert settings.SECURE_PROXY_SSL_HEADER is None


@pytest.fixture
def https_only(settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_plain_http_is_redirected_to_https(client, https_only):
    response = client.get("/api/cron/jobs")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/cron/jobs"


def test_a_request_the_proxy_received_over_https_is_served(client, https_only):
    response = client.get("/api/cron/jobs", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 401  # reached the API, which wants a token


def test_health_is_answered_over_plain_http_for_probes_inside_the_network(client, https_only):
    response = client.get("/health")

    assert response.status_code != 301
