"""When the broker cannot be reached, a new run is recorded as failed with the reason and the
caller gets a 503 to retry: no run is left queued that no worker will ever hear of.

The request is made by a separate process whose REDIS_URL names a port nothing listens on.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from workflows.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = """
import json, django
django.setup()
from rest_framework.test import APIClient
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Bearer " + {token!r})
response = client.post("/api/workflows/{workflow_id}/run", {{"input": "cats"}}, format="json")
print(json.dumps({{"status": response.status_code, "body": response.json()}}))
"""


def test_a_run_that_cannot_be_queued_is_failed_with_the_reason(alice, workflow):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "vingine.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ALLOWED_HOSTS": "testserver",
    }
    script = REQUEST.format(token=str(AccessToken.for_user(alice)), workflow_id=workflow.workflow_id)

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert "task queue is unreachable" in answer["body"]["detail"]
    run = Run.objects.get(workflow=workflow)
    assert run.status == Run.Status.FAILED
    assert run.finished_at is not None
    assert "Could not be queued" in run.error
