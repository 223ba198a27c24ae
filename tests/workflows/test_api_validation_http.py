"""POST /api/workflows refuses a bad http step (or retries) with 400 naming the step and the problem."""

import pytest

from workflows.models import Workflow

ECHO = {"type": "python", "callable": "echo"}
URL = "https://app.example.com/api/generate-video"


def save(api, step: dict):
    return api.post("/api/workflows", {"workflow_id": "wf-1", "steps": [ECHO, step]}, format="json")


def http(**fields) -> dict:
    return {"type": "http", "url": URL, **fields}


def refused(response) -> str:
    assert response.status_code == 400, response.content
    assert not Workflow.objects.exists()
    return response.json()["detail"]


def test_it_saves_a_complete_http_step(api):
    step = http(
        method="PUT",
        headers={"Authorization": "Bearer t", "X-Trace": "1"},
        body={"topic": "{{input}}", "n": [1, {"p": "{{ previous }}"}]},
        timeout=300,
        retries=10,
    )

    response = save(api, step)

    assert response.status_code == 200, response.json()
    assert Workflow.objects.get().steps[1] == step


def test_an_http_step_needs_only_a_url(api):
    assert save(api, {"type": "http", "url": "http://app.example.com"}).status_code == 200


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (None, "'url' must be an http:// or https:// URL"),
        ("", "'url' must be an http:// or https:// URL"),
        (42, "'url' must be an http:// or https:// URL"),
        ("ftp://files.example.com/x", "'url' must start with http:// or https://, got 'ftp://files.example.com/x'"),
        ("file:///etc/passwd", "'url' must start with http:// or https://, got 'file:///etc/passwd'"),
        ("app.example.com/hook", "'url' must start with http:// or https://, got 'app.example.com/hook'"),
        ("http:///path-only", "'url' has no host: 'http:///path-only'"),
        ("http://exa mple.com/", "'url' host 'exa%20mple.com' is not a valid host name"),
        ("https://user:pw@app.example.com/", "'url' must not carry a user name or password"),
        ("https://app.example.com/" + "a" * 2048, "'url' is longer than 2048 characters"),
    ],
)
def test_it_rejects_a_bad_url(api, url, problem):
    assert refused(save(api, http(url=url))).startswith(f"steps[1] (http): {problem}")


@pytest.mark.parametrize("method", ["FETCH", "", 1, None, ["GET"]])
def test_it_rejects_a_bad_method(api, method):
    detail = refused(save(api, http(method=method)))

    assert detail.startswith("steps[1] (http): 'method' must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")


def test_the_method_may_be_lower_case(api):
    assert save(api, http(method="patch")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        (["Authorization: x"], "'headers' must be an object of header names to string values"),
        ({"Bad Name": "x"}, "'Bad Name' is not a valid header name"),
        ({"X-N": 5}, "header 'X-N' must have a string value"),
        ({"X-Inject": "a\r\nHost: evil"}, "header 'X-Inject' contains a line break"),
        ({"Host": "internal"}, "header 'Host' is set by the HTTP client; remove it"),
        ({"content-length": "5"}, "header 'content-length' is set by the HTTP client; remove it"),
        ({f"X-{n}": "v" for n in range(51)}, "at most 50 headers, got 51"),
    ],
)
def test_it_rejects_bad_headers(api, headers, problem):
    assert refused(save(api, http(headers=headers))) == f"steps[1] (http): {problem}"


def test_it_rejects_an_unknown_placeholder_in_the_body(api):
    detail = refused(save(api, http(body={"a": ["{{input}}", "{{ secrets }}"]})))

    assert detail.startswith("steps[1] (http): unknown placeholder {{secrets}} in body")


def test_it_rejects_a_body_on_a_get(api):
    detail = refused(save(api, http(method="GET", body={"a": 1})))

    assert detail == "steps[1] (http): a GET request has no body; use POST, PUT or PATCH to send one"


def test_it_rejects_a_body_too_large_to_keep(api):
    detail = refused(save(api, http(body="x" * 70_000)))

    assert detail == "steps[1] (http): 'body' is larger than 65536 bytes"


@pytest.mark.parametrize("timeout", [0, -1, 301, "10", True, None])
def test_it_rejects_a_timeout_out_of_range(api, timeout):
    detail = refused(save(api, http(timeout=timeout)))

    assert detail.startswith("steps[1] (http): 'timeout' must be a number of seconds above 0 and at most 300")


@pytest.mark.parametrize("retries", [-1, 11, 1.5, "2", True])
def test_it_rejects_retries_out_of_range_on_any_step(api, retries):
    assert refused(save(api, http(retries=retries))).startswith(
        "steps[1] (http): 'retries' must be a whole number from 0 to 10"
    )
    assert refused(save(api, {**ECHO, "retries": retries})).startswith(
        "steps[1] (python): 'retries' must be a whole number from 0 to 10"
    )


def test_it_rejects_the_redaction_marker_as_a_new_secret(api):
    detail = refused(save(api, http(headers={"Authorization": "[redacted]"})))

    assert detail == (
        "steps[1] (http): header 'Authorization' is '[redacted]' and there is no stored value to keep;"
        " send its real value"
    )
