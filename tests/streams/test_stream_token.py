"""POST /api/stream/token: a short-lived URL for a stream of the caller's runs, or of one job's or
one run's they may see; never of someone else's."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing

from cronjobs import schedules
from streams import tokens
from streams.tokens import StreamScope
from workflows.models import Run
from workflows.runs import run_enqueue


def token_of(answer) -> StreamScope:
    [token] = parse_qs(urlparse(answer.json()["url"]).query)["token"]
    assert token == answer.json()["token"]
    return tokens.read(token)


def test_a_token_opens_a_stream_of_the_callers_runs(api, alice, settings):
    settings.STREAM_PUBLIC_URL = "https://stream.example.com/"

    answer = api.post("/api/stream/token", {}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["url"].startswith("https://stream.example.com/api/stream/runs?token=")
    assert (body["status"], body["job_id"], body["run_id"]) == ("success", None, None)
    assert token_of(answer) == StreamScope(caller_id=alice.pk, owner_id=alice.pk)


def test_without_a_public_url_the_stream_is_on_the_apis_host_at_the_stream_port(api, settings):
    settings.STREAM_PUBLIC_URL, settings.STREAM_PORT = "", 8001
    settings.ALLOWED_HOSTS = ["api.example.com"]

    answer = api.post("/api/stream/token", HTTP_HOST="api.example.com:8000")

    assert answer.json()["url"].startswith("http://api.example.com:8001/api/stream/runs?token=")


def test_a_token_for_one_job_or_one_run(api, alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30), job_id="report")
    run = run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="x")

    for_job = api.post("/api/stream/token", {"job_id": "report"}, format="json")
    for_run = api.post("/api/stream/token", {"run_id": str(run.id)}, format="json")

    assert token_of(for_job) == StreamScope(caller_id=alice.pk, owner_id=alice.pk, job_pk=str(job.pk))
    assert for_job.json()["job_id"] == "report"
    assert token_of(for_run) == StreamScope(caller_id=alice.pk, owner_id=alice.pk, run_id=str(run.id))
    assert for_run.json()["run_id"] == str(run.id)


def test_someone_elses_job_or_run_gets_no_token(client_for, bob, workflow, make_job, alice):
    make_job(workflow, schedules.interval_spec(seconds=30), job_id="alices-job")
    run = run_enqueue(workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, input_text="x")
    bobs = client_for(bob)

    job_answer = bobs.post("/api/stream/token", {"job_id": "alices-job"}, format="json")
    run_answer = bobs.post("/api/stream/token", {"run_id": str(run.id)}, format="json")

    assert job_answer.status_code == 403
    assert job_answer.json() == {"detail": "You don't have permission to watch this job"}
    assert run_answer.status_code == 403
    assert run_answer.json() == {"detail": "You don't have permission to watch this run"}


def test_staff_watching_someones_job_get_that_owners_runs_of_it(client_for, operator, alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30), job_id="alices-job")

    answer = client_for(operator).post("/api/stream/token", {"job_id": "alices-job"}, format="json")

    assert token_of(answer) == StreamScope(caller_id=operator.pk, owner_id=alice.pk, job_pk=str(job.pk))


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"job_id": "nope"}, 404, "Job nope not found"),
        ({"run_id": "8a0c6d3e-0d7e-4a8e-9f53-4c1b3b1e0a11"}, 404, "Run 8a0c6d3e-0d7e-4a8e-9f53-4c1b3b1e0a11 not found"),
        ({"run_id": "not-a-uuid"}, 400, "run_id"),
        ({"job_id": 7}, 400, "job_id"),
        ({"job_id": "a", "run_id": "8a0c6d3e-0d7e-4a8e-9f53-4c1b3b1e0a11"}, 400, "not both"),
    ],
)
def test_a_bad_request_says_what_to_fix(api, body, status, detail):
    answer = api.post("/api/stream/token", body, format="json")

    assert answer.status_code == status
    assert detail in answer.json()["detail"]


def test_without_credentials_there_is_no_token(client, db):
    answer = client.post("/api/stream/token")

    assert answer.status_code == 401


def test_a_token_opens_streams_only_for_a_while_and_only_as_signed(alice, monkeypatch, settings):
    token, expires_at = tokens.issue(StreamScope(caller_id=alice.pk, owner_id=alice.pk))
    assert tokens.read(token).owner_id == alice.pk

    forged = signing.dumps({"c": alice.pk, "u": alice.pk + 1, "j": "", "r": ""}, salt=tokens.SALT, key="not-ours")
    with pytest.raises(tokens.Refused, match="not valid"):
        tokens.read(forged)
    with pytest.raises(tokens.Refused, match="No stream token"):
        tokens.read("")

    settings.STREAM_TOKEN_SECONDS = 0  # every token is already older than this
    with pytest.raises(tokens.Refused, match="expired"):
        tokens.read(token)
