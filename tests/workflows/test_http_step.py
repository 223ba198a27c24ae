"""The http step against a real HTTP server on 127.0.0.1: requests, outputs, retries, timeouts."""

import pytest

from tests.webhooks import Reply
from workflows.runner import DynamicWorkflowRunner
from workflows.steps.http import MAX_RESPONSE_BYTES

pytestmark = pytest.mark.usefixtures("allow_local")


def run(steps: list[dict], input_text: str = "cats"):
    return DynamicWorkflowRunner(steps).run(input_text)


def http(url: str, **fields) -> dict:
    return {"type": "http", "url": url, **fields}


def test_it_posts_the_filled_in_body_with_the_steps_headers(webhook):
    webhook.script("/hook", Reply(200, {"video_id": "v-1"}))
    steps = [
        {"type": "template", "template": "Video about {{input}}"},
        http(
            webhook.url(),
            method="POST",
            headers={"Authorization": "Bearer s3cret", "X-Source": "vingine"},
            body={"title": "{{previous}}", "topic": "{{input}}", "tags": ["{{input}}", 3], "draft": False},
        ),
    ]

    result = run(steps)

    assert result.succeeded, result.error
    assert result.output == {"status_code": 200, "body": {"video_id": "v-1"}}
    [request] = webhook.hits()
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Source"] == "vingine"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"title": "Video about cats", "topic": "cats", "tags": ["cats", 3], "draft": False}


def test_a_body_that_is_not_json_is_kept_as_text(webhook):
    webhook.script("/page", Reply(200, "<html>done</html>"))

    result = run([http(webhook.url("/page"), method="GET")])

    assert result.output == {"status_code": 200, "body": "<html>done</html>"}
    assert webhook.hits("/page")[0].method == "GET"


def test_the_next_step_gets_the_response_as_json(webhook):
    webhook.script("/hook", Reply(201, {"id": 7}))

    result = run([http(webhook.url()), {"type": "template", "template": "got {{previous}}"}])

    assert result.output == 'got {"status_code": 201, "body": {"id": 7}}'


def test_a_client_error_fails_the_step_at_once_quoting_the_response(webhook):
    webhook.script("/hook", Reply(422, {"error": "title missing"}))

    result = run([http(webhook.url(), retries=3)])

    assert not result.succeeded
    assert result.error == f'steps[0] (http) failed: HTTP 422 from {webhook.url()}: {{"error": "title missing"}}'
    assert len(webhook.hits()) == 1  # a 4xx will not change by asking again
    assert [a["status_code"] for a in result.steps[0]["attempts"]] == [422]


def test_a_server_error_is_retried_and_each_attempt_is_recorded(webhook):
    webhook.script("/hook", Reply(500, "overloaded"), Reply(200, {"ok": True}))

    result = run([http(webhook.url(), retries=2)])

    assert result.succeeded, result.error
    assert result.output == {"status_code": 200, "body": {"ok": True}}
    assert len(webhook.hits()) == 2
    first, second = result.steps[0]["attempts"]
    assert (first["attempt"], first["status_code"], first["error"]) == (
        1,
        500,
        f"HTTP 500 from {webhook.url()}: overloaded",
    )
    assert 0.5 <= first["retry_in_seconds"] <= 1.0  # the first backoff: 1 s, halved at random
    assert (second["attempt"], second["status_code"]) == (2, 200)
    assert "error" not in second
    assert first["finished_at"] <= second["started_at"]


def test_a_server_that_keeps_failing_fails_the_step_after_its_retries(webhook):
    webhook.script("/hook", Reply(503, "down"))

    result = run([http(webhook.url(), retries=1)])

    assert result.error == f"steps[0] (http) failed: HTTP 503 from {webhook.url()}: down"
    assert len(webhook.hits()) == 2
    assert [a["status_code"] for a in result.steps[0]["attempts"]] == [503, 503]
    assert "retry_in_seconds" not in result.steps[0]["attempts"][-1]


def test_a_429_is_retried_after_the_retry_after_it_asks_for(webhook):
    webhook.script("/hook", Reply(429, "slow down", headers={"Retry-After": "1"}), Reply(200, {"ok": True}))

    result = run([http(webhook.url(), retries=1)])

    assert result.succeeded, result.error
    first, second = webhook.hits()
    assert second.at - first.at >= 1.0
    assert result.steps[0]["attempts"][0]["retry_in_seconds"] == 1.0


def test_a_server_slower_than_the_steps_timeout_fails_the_step(webhook):
    webhook.script("/slow", Reply(200, "late", delay=3))

    result = run([http(webhook.url("/slow"), timeout=0.5)])

    assert result.error == f"steps[0] (http) failed: no response within 0.5 s from {webhook.url('/slow')}"
    assert not result.timed_out  # the step's own timeout, not the run's limit


def test_a_network_error_is_retried(webhook):
    # Nothing listens on the server's port once it is stopped: connection refused, twice.
    url = webhook.url()
    webhook.stop()

    result = run([http(url, retries=1)])

    attempts = result.steps[0]["attempts"]
    assert len(attempts) == 2
    assert all(a["error"].startswith("network error: ") for a in attempts)
    assert result.error.startswith("steps[0] (http) failed: network error: ")


def test_a_large_response_is_cut_and_marked(webhook):
    webhook.script("/big", Reply(200, "x" * (MAX_RESPONSE_BYTES + 10_000)))

    result = run([http(webhook.url("/big"))])

    assert result.succeeded
    assert result.output["body"] == "x" * MAX_RESPONSE_BYTES
    assert result.output["body_truncated"] is True
    assert not result.output_truncated  # a response's cut body fits what a run keeps


def test_it_follows_a_redirect_and_records_it(webhook):
    webhook.script("/old", Reply(302, "", headers={"Location": "/new"}))
    webhook.script("/new", Reply(200, {"moved": True}))

    result = run([http(webhook.url("/old"), method="GET")])

    assert result.output == {"status_code": 200, "body": {"moved": True}}
    attempt = result.steps[0]["attempts"][0]
    assert (attempt["url"], attempt["redirects"]) == (webhook.url("/old"), [webhook.url("/new")])


def test_a_redirect_to_another_host_does_not_carry_the_credentials(webhook, settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    webhook.script("/old", Reply(307, "", headers={"Location": webhook.url("/new", host="localhost")}))
    headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k", "Cookie": "sid=1", "X-Trace": "t-1"}

    result = run([http(webhook.url("/old"), headers=headers, body={"a": 1})])

    assert result.succeeded, result.error
    [moved] = webhook.hits("/new")
    assert moved.method == "POST" and moved.json() == {"a": 1}  # a 307 keeps the method and body
    assert moved.headers["X-Trace"] == "t-1"
    assert not {"Authorization", "X-Api-Key", "Cookie"} & set(moved.headers)


def test_a_redirect_loop_fails_the_step(webhook):
    webhook.script("/loop", Reply(302, "", headers={"Location": "/loop"}))

    result = run([http(webhook.url("/loop"), method="GET")])

    assert result.error == "steps[0] (http) failed: more than 5 redirects"
    assert len(webhook.hits("/loop")) == 6
