"""Bodies no client should send, to every path of the schema: a 4xx {"detail"}, nothing written.

Served in-process here; tests/e2e/test_hostile_http.py sends the same through gunicorn.
"""

import pytest

from cronjobs import schedules
from tests.snapshots import snapshot

TEN_MB = 10 * 1024 * 1024
ALICES_IDS = {"job_id": "daily-video-generation", "workflow_id": "video-automation-workflow"}


@pytest.fixture
def schema_paths(client_for, db) -> dict[str, dict]:
    """Every path of the schema, its ids filled with alice's, and its operations by method."""
    paths = client_for().get("/api/schema?format=json").json()["paths"]
    filled = {}
    for path, operations in paths.items():
        for name, value in {**ALICES_IDS, "run_id": "6f1c1f9e-3c2d-4e6f-9a0b-1c2d3e4f5a6b"}.items():
            path = path.replace(f"{{{name}}}", value)
        filled[path] = operations
    assert len(filled) >= 14, filled
    return filled


@pytest.fixture
def alices_job(make_job, workflow):
    return make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), job_id="daily-video-generation")


def assert_detail(response, *statuses: int) -> str:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"], body
    return body["detail"]


@pytest.mark.parametrize("signed_in", [True, False], ids=["alice", "no token"])
def test_a_10_mb_body_is_refused_on_every_path_and_method(client_for, alice, alices_job, schema_paths, signed_in):
    client = client_for(alice if signed_in else None)
    body = b'{"input": "' + b"x" * TEN_MB + b'"}'
    before = snapshot()

    for path in schema_paths:
        for method in ("post", "put", "patch", "delete"):
            detail = assert_detail(getattr(client, method)(path, body, content_type="application/json"), 413)
            assert "limit is 1048576 bytes" in detail

    assert snapshot() == before
    # Nothing was held back by the refusals: the next ordinary request is served.
    assert client_for(alice).get("/api/cron/jobs").json()["total_jobs"] == 1


HOSTILE = {
    "nested 100000 deep (array)": (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    "nested 100000 deep (object)": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", 400),
    "invalid UTF-8": (b'{"input": "\xff\xfe\xfd", "workflow_id": "\xc0\xaf"}', "application/json", 400),
    "NaN": (b'{"input": NaN, "hours": NaN}', "application/json", 400),
    "not JSON": (b"{'input': 'x'", "application/json", 400),
    "charset that is not a text encoding (hex)": (b'{"input": "x"}', "application/json; charset=hex", 400),
    "charset that is not a text encoding (rot13)": (b'{"input": "x"}', "application/json; charset=rot13", 400),
    "wrong charset (UTF-16 for UTF-8 bytes)": (b'{"input": "x\xc3"}', "application/json; charset=utf-16", 400),
    "text/plain": (b'{"input": "x"}', "text/plain", 415),
    "form encoded": (b"input=x&workflow_id=video-automation-workflow", "application/x-www-form-urlencoded", 415),
    "multipart": (
        b'--b\r\nContent-Disposition: form-data; name="input"\r\n\r\nx\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        415,
    ),
    "XML": (b"<input>x</input>", "application/xml", 415),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_body_is_a_4xx_on_every_write(client_for, alice, alices_job, schema_paths, case):
    body, content_type, status = HOSTILE[case]
    client = client_for(alice)
    before = snapshot()
    # The operations that read a body; the others (pause, trigger, ...) document none and ignore one.
    writes = [
        (path, method)
        for path, operations in schema_paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(writes) >= 7

    for path, method in writes:
        assert_detail(getattr(client, method)(path, body, content_type=content_type), status)

    assert snapshot() == before


@pytest.mark.parametrize("length", ["abc", "-5", "1e9"])
def test_a_content_length_that_is_not_a_size_is_a_400(client_for, alice, alices_job, length):
    before = snapshot()

    response = client_for(alice).generic(
        "POST",
        "/api/workflows",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=length,
    )

    assert "Content-Length" in assert_detail(response, 400)
    assert snapshot() == before
