"""POST /api/workflows refuses a bad definition with 400 and a detail naming the step at fault."""

import pytest

from workflows.models import Workflow

ECHO = {"type": "python", "callable": "echo"}


def save(api, **body):
    return api.post("/api/workflows", {"workflow_id": "wf-1", "steps": [ECHO], **body}, format="json")


def assert_refused(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == ["detail"]
    assert not Workflow.objects.exists()
    return body["detail"]


def test_it_rejects_an_unknown_step_type(api):
    detail = assert_refused(save(api, steps=[ECHO, {"type": "shell", "command": "rm -rf /"}]))

    assert detail.startswith("steps[1]: unknown step type 'shell'")


@pytest.mark.parametrize("kind", [None, 7, ["template"], {"template": 1}])
def test_it_rejects_a_step_type_that_is_not_a_name(api, kind):
    step = {"template": "x"} if kind is None else {"type": kind, "template": "x"}

    detail = assert_refused(save(api, steps=[step]))

    assert detail.startswith("steps[0]: unknown step type")


def test_it_rejects_an_unknown_python_callable(api):
    detail = assert_refused(save(api, steps=[{"type": "python", "callable": "os.system"}]))

    assert detail.startswith("steps[0] (python): unknown callable 'os.system'")
    assert "echo" in detail


def test_it_rejects_a_callable_that_is_not_a_string(api):
    detail = assert_refused(save(api, steps=[{"type": "python", "callable": ["echo"]}]))

    assert detail == "steps[0] (python): 'callable' must be a string"


@pytest.mark.parametrize("template", ["{{input.__class__}}", "{{ foo }}", "{{ input.upper() }}", "{{previous[0]}}"])
def test_it_rejects_a_template_placeholder_other_than_input_and_previous(api, template):
    detail = assert_refused(save(api, steps=[ECHO, {"type": "template", "template": template}]))

    assert detail.startswith("steps[1] (template): unknown placeholder")


def test_it_rejects_a_template_that_is_not_a_string(api):
    detail = assert_refused(save(api, steps=[{"type": "template", "template": 42}]))

    assert detail == "steps[0] (template): 'template' must be a string"


@pytest.mark.parametrize("steps", ["echo", {"type": "python"}, 3, None, []])
def test_it_rejects_steps_that_are_not_a_non_empty_list(api, steps):
    detail = assert_refused(save(api, steps=steps))

    assert "steps" in detail


def test_it_rejects_a_step_that_is_not_an_object(api):
    detail = assert_refused(save(api, steps=[ECHO, "echo"]))

    assert detail == "steps[1]: must be an object with a 'type'"


def test_it_rejects_a_body_without_steps(api):
    response = api.post("/api/workflows", {"workflow_id": "wf-1"}, format="json")

    assert assert_refused(response) == "steps: This field is required."


@pytest.mark.parametrize("seconds", ["5", None, True, [1]])
def test_it_rejects_sleep_seconds_that_are_not_a_number(api, seconds):
    detail = assert_refused(save(api, steps=[{"type": "python", "callable": "sleep", "seconds": seconds}]))

    assert detail == "steps[0] (python): 'seconds' must be a number"


@pytest.mark.parametrize("seconds", [-1, 3601])
def test_it_rejects_sleep_seconds_out_of_range(api, seconds):
    detail = assert_refused(save(api, steps=[{"type": "python", "callable": "sleep", "seconds": seconds}]))

    assert detail.startswith("steps[0] (python): 'seconds' must be between 0 and")


def test_it_rejects_a_fail_message_that_is_not_a_string(api):
    detail = assert_refused(save(api, steps=[{"type": "python", "callable": "fail", "message": 1}]))

    assert detail == "steps[0] (python): 'message' must be a string"


def test_it_names_every_bad_step(api):
    steps = [ECHO, {"type": "nope"}, ECHO, {"type": "python", "callable": "nope"}]

    detail = assert_refused(save(api, steps=steps))

    assert "steps[1]" in detail
    assert "steps[3]" in detail
    assert "steps[0]" not in detail


def test_it_rejects_more_steps_than_the_limit(api):
    detail = assert_refused(save(api, steps=[ECHO] * 51))

    assert "at most 50 steps" in detail


def test_it_rejects_a_nul_character_in_a_step(api):
    detail = assert_refused(save(api, steps=[ECHO, {"type": "template", "template": "a\x00b"}]))

    assert detail.startswith("steps[1]: contains a NUL character")


def test_it_rejects_an_unpaired_surrogate_in_a_step(api):
    # Sent as the JSON escape \ud800, which parses to a string PostgreSQL cannot store.
    raw = '{"workflow_id": "wf", "steps": [{"type": "template", "template": "a\\ud800b"}]}'
    response = api.generic("POST", "/api/workflows", raw, content_type="application/json")

    detail = assert_refused(response)
    assert detail.startswith("steps[0]: contains an unpaired surrogate")


def test_it_rejects_a_step_nested_too_deeply(api):
    nested: object = "x"
    for _ in range(40):
        nested = [nested]

    detail = assert_refused(save(api, steps=[{"type": "python", "callable": "echo", "extra": nested}]))

    assert detail.startswith("steps[0]: is nested more than 32 levels deep")


@pytest.mark.parametrize("workflow_id", [123, None, ["wf"], {"id": "wf"}, True])
def test_it_rejects_a_workflow_id_that_is_not_a_string(api, workflow_id):
    detail = assert_refused(save(api, workflow_id=workflow_id))

    assert detail.startswith("workflow_id: ")


@pytest.mark.parametrize("workflow_id", ["", "has space", "a/b", "x" * 201, "ünïcode"])
def test_it_rejects_a_workflow_id_outside_the_allowed_characters(api, workflow_id):
    detail = assert_refused(save(api, workflow_id=workflow_id))

    assert detail.startswith("workflow_id: ")


@pytest.mark.parametrize("name", [5, ["a"], {"a": 1}, True])
def test_it_rejects_a_name_that_is_not_a_string(api, name):
    detail = assert_refused(save(api, name=name))

    assert detail == "name: must be a string."


def test_it_rejects_a_name_longer_than_200_characters(api):
    detail = assert_refused(save(api, name="n" * 201))

    assert detail.startswith("name: ")
