"""DynamicWorkflowRunner: steps run in order, each fed the run's input and the previous step's output."""

import time

from workflows.runner import DynamicWorkflowRunner


def run(steps: list[dict], input_text: str = "tech news"):
    # The runner reads only the definition: an unsaved workflow is enough.
    return DynamicWorkflowRunner(steps).run(input_text)


def template(text: str) -> dict:
    return {"type": "template", "template": text}


def python(name: str, **params) -> dict:
    return {"type": "python", "callable": name, **params}


def test_it_substitutes_the_input_into_a_template():
    result = run([template("Video about {{input}}")])

    assert result.succeeded
    assert result.output == "Video about tech news"


def test_the_first_steps_previous_is_the_run_input():
    result = run([template("[{{previous}}]")])

    assert result.output == "[tech news]"


def test_placeholders_may_have_spaces_inside_the_braces():
    assert run([template("{{ input }}/{{  previous  }}")]).output == "tech news/tech news"


def test_each_step_gets_the_previous_steps_output():
    result = run([template("A({{previous}})"), template("B({{previous}})"), template("C({{previous}}, {{input}})")])

    assert result.output == "C(B(A(tech news)), tech news)"
    assert [step["output"] for step in result.steps] == [
        "A(tech news)",
        "B(A(tech news))",
        "C(B(A(tech news)), tech news)",
    ]


def test_echo_passes_the_previous_output_through():
    result = run([template("Video about {{input}}"), python("echo")])

    assert result.output == "Video about tech news"


def test_echo_alone_returns_the_input():
    assert run([python("echo")]).output == "tech news"


def test_every_step_is_recorded_in_order():
    result = run([template("x"), python("echo")])

    assert [(step["index"], step["type"]) for step in result.steps] == [(0, "template"), (1, "python")]
    assert all("started_at" in step and step["duration_ms"] >= 0 for step in result.steps)


def test_a_failing_step_fails_the_run_and_stops_it():
    result = run([template("{{input}}!"), python("fail", message="render farm is down"), template("never")])

    assert not result.succeeded
    assert result.error == "steps[1] (python) failed: render farm is down"
    assert result.output is None
    assert len(result.steps) == 2
    assert result.steps[1]["error"] == "render farm is down"
    assert "output" not in result.steps[1]


def test_fail_without_a_message_still_says_why():
    result = run([python("fail")])

    assert result.error.startswith("steps[0] (python) failed: ")
    assert len(result.error) > len("steps[0] (python) failed: ")


def test_sleep_waits_then_passes_the_previous_output_through():
    started = time.monotonic()

    result = run([template("<{{input}}>"), python("sleep", seconds=0.2)])

    assert time.monotonic() - started >= 0.2
    assert result.output == "<tech news>"
    assert result.steps[1]["duration_ms"] >= 200


def test_a_template_never_evaluates_the_input():
    hostile = "{{previous}} {{input.__class__}} __import__('os').getcwd() \\1 \\g<0> {% now %}"

    result = run([template("<{{input}}>")], input_text=hostile)

    assert result.output == f"<{hostile}>"


def test_a_template_substitutes_only_once():
    # The substituted input contains a placeholder: it stays literal text, it is not expanded again.
    result = run([template("{{input}}"), template("{{previous}}")], input_text="{{input}}")

    assert result.output == "{{input}}"


def test_an_unknown_placeholder_that_slipped_past_validation_fails_the_run_without_evaluating_it():
    result = run([template("{{input.__class__}}")])

    assert not result.succeeded
    assert result.error.startswith("steps[0] (template) crashed: ")
    assert "class 'str'" not in str(result.steps)


def test_a_non_string_previous_output_is_substituted_as_text(register_callable):
    register_callable("count", lambda *, previous, input, step: len(previous))

    result = run([python("count"), template("{{previous}} characters")])

    assert result.output == "9 characters"  # len("tech news")


def test_a_missing_previous_output_is_substituted_as_empty_text(register_callable):
    register_callable("nothing", lambda *, previous, input, step: None)

    assert run([python("nothing"), template("[{{previous}}]")]).output == "[]"


def test_an_unexpected_exception_in_a_callable_fails_the_run_instead_of_raising(register_callable):
    register_callable("broken", lambda *, previous, input, step: 1 / 0)

    result = run([python("broken"), template("never")])

    assert result.error == "steps[0] (python) crashed: ZeroDivisionError: division by zero"
    assert len(result.steps) == 1


def test_a_structured_previous_output_is_substituted_as_json(register_callable):
    register_callable("as_dict", lambda *, previous, input, step: {"topic": previous, "n": 1})

    result = run([python("as_dict"), template("payload={{previous}}")])

    assert result.output == 'payload={"topic": "tech news", "n": 1}'


def test_a_template_that_would_grow_past_the_output_limit_fails_its_step():
    doubling = template("{{previous}}{{previous}}")

    result = run([template("x" * 1000)] + [doubling] * 10)  # 1,000 characters, doubled ten times

    assert not result.succeeded
    assert result.error.startswith("steps[9] (template) failed: the output would be 512000 characters")
    assert len(result.steps) == 10
