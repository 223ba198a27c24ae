"""`make load` in small: scripts/load.py runs its stack and clients, and reports cleanly."""

import os
import re
import subprocess
import sys

import pytest
import redis
from django.conf import settings

from .conftest import database_url

pytestmark = pytest.mark.e2e

ENDPOINTS = [
    "POST /api/cron/jobs/cron",
    "POST /api/cron/jobs/interval",
    "POST /api/cron/jobs/cron (replace)",
    "GET /api/cron/jobs",
    "GET /api/cron/jobs/{job_id}",
    "POST /api/cron/jobs/{job_id}/pause",
    "POST /api/cron/jobs/{job_id}/resume",
    "POST /api/cron/jobs/{job_id}/trigger",
    "GET /api/runs/{run_id}",
    "GET /api/cron/jobs/{job_id}/runs",
    "DELETE /api/cron/jobs/{job_id}",
    "GET /api/cron/jobs/all",
]
INVARIANTS = ["duplicate slots", "stuck running", "stuck queued", "jobs without task", "tasks without job"]


@pytest.fixture
def load_redis_url(django_db_setup):
    # The session's own Redis db: the script flushes it at start, and so does this fixture after,
    # so that no heartbeat or message of the load's stack reaches a later test.
    yield settings.REDIS_URL
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def test_the_load_script_runs_clean_and_prints_every_endpoint(load_redis_url):
    env = {
        **os.environ,
        # A database of its own next to the session's test database: the script drops it first.
        "LOAD_DATABASE_URL": database_url() + "_load",
        "LOAD_REDIS_URL": load_redis_url,
    }
    result = subprocess.run(
        [sys.executable, "scripts/load.py", "--clients", "5", "--seconds", "5", "--baseline-seconds", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    rows = {
        match.group(1): match.group(2).split(" | ")
        for match in re.finditer(r"^\| `([^`]+)` \| (.*) \|$", result.stdout, re.MULTILINE)
    }
    assert list(rows) == ENDPOINTS
    for endpoint, cells in rows.items():
        four_xx, five_xx, no_answer = cells[-3:]
        assert (four_xx, five_xx, no_answer) == ("0", "0", "0"), endpoint
    total = re.search(r"^\| \*\*all\*\* \| (\d+) \|", result.stdout, re.MULTILINE)
    assert total and int(total.group(1)) > 50, result.stdout
    for check in INVARIANTS:
        assert re.search(rf"^\| {check} \| 0 \| ok \|$", result.stdout, re.MULTILINE), check
