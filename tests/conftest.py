"""Shared fixtures. Tests run against the real PostgreSQL and Redis named by DATABASE_URL/REDIS_URL."""

import time
import uuid
from collections.abc import Callable

import jwt
import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from cronjobs import services
from tests.webhooks import WebhookServer
from vingine import throttling
from workflows.services import workflow_save

# The run object's fields as DESIGN.md lists them; the API may add more, never fewer.
RUN_FIELDS = frozenset(
    {
        "run_id",
        "job_id",
        "workflow_id",
        "user_id",
        "trigger",
        "scheduled_for",
        "status",
        "reason",
        "started_at",
        "finished_at",
        "input_text",
        "output",
        "error",
    }
)
ECHO_STEPS = [{"type": "template", "template": "Video about {{input}}"}, {"type": "python", "callable": "echo"}]


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Admin pages render without a collectstatic manifest (that is built by `make run`)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users made by tests get a cheap hash: the default one costs most of a second per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _throttling(settings):
    """Tests call the API fast as one user: the per-user limit is off unless a test sets it (the
    sign-in limits stay on). No test's counters reach another."""
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    throttling._redis_down_until = 0.0
    yield
    throttling._redis_down_until = 0.0
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        keys = list(client.scan_iter(match=f"{throttling.PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # a test that pointed REDIS_URL at nothing


@pytest.fixture
def make_user(db) -> Callable:
    def make(username: str | None = None, *, staff: bool = False):
        return get_user_model().objects.create_user(
            username=username or f"user-{uuid.uuid4()}", password="pw", is_staff=staff
        )

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice-uuid")


@pytest.fixture
def bob(make_user):
    return make_user("bob-uuid")


@pytest.fixture
def operator(make_user):
    return make_user("operator", staff=True)


def access_token(user) -> str:
    """A token as POST /api/auth/token issues it."""
    return str(AccessToken.for_user(user))


def external_token(sub: str, *, secret: str | None = None, **claims) -> str:
    """A Supabase-style token: HS256, sub = user id, aud = authenticated, no token_type or jti."""
    now = int(time.time())
    payload = {"sub": sub, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}
    payload.update(claims)
    return jwt.encode(payload, secret or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


@pytest.fixture
def client_for() -> Callable:
    def make(user=None, token: str | None = None) -> APIClient:
        client = APIClient()
        if user is not None or token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or access_token(user)}")
        return client

    return make


@pytest.fixture
def api(client_for, alice) -> APIClient:
    """Alice's authenticated client."""
    return client_for(alice)


@pytest.fixture
def make_workflow(db) -> Callable:
    def make(owner, workflow_id: str = "video-automation-workflow", steps: list | None = None):
        return workflow_save(owner=owner, workflow_id=workflow_id, name=workflow_id, steps=steps or ECHO_STEPS)

    return make


@pytest.fixture
def workflow(make_workflow, alice):
    return make_workflow(alice)


@pytest.fixture
def make_job(db) -> Callable:
    """A job of ``workflow``'s owner, written through the service the API uses."""

    def make(workflow, spec, job_id: str = "job-1", input_text: str = "x"):
        return services.job_upsert(
            caller=workflow.owner,
            job_id=job_id,
            workflow_id=workflow.workflow_id,
            user_id=None,
            input_text=input_text,
            spec=spec,
        )

    return make


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 (a free port) for http steps to call."""
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
def allow_local(settings) -> None:
    """Lets http steps reach the test's own server, as an operator would allow an internal host."""
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
