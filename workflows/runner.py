"""DynamicWorkflowRunner: executes a workflow's steps in order.

Each step receives the run's input and the previous step's output (the run's input for the first
step); the last step's output is the run's output. Every step's result is kept so a person can
see where a run went wrong.
"""

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from . import callables
from .errors import StepFailed

MAX_STEPS = 50
MAX_TEMPLATE_LENGTH = 64 * 1024
MAX_OUTPUT_CHARACTERS = 256 * 1024
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PLACEHOLDERS = ("input", "previous")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    # Structured outputs are substituted as JSON, the form a webhook or the next step can read.
    return json.dumps(value, default=str)


def _validate_template(step: dict) -> str | None:
    template = step.get("template")
    if not isinstance(template, str):
        return "'template' must be a string"
    if len(template) > MAX_TEMPLATE_LENGTH:
        return f"'template' is longer than {MAX_TEMPLATE_LENGTH} characters"
    for name in PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{{{name}}}}} in template (only {{{{input}}}} and {{{{previous}}}})"
    return None


def _run_template(step: dict, previous: Any, input_text: str) -> str:
    # Plain substitution: the only names are input and previous, nothing is evaluated.
    values = {"input": input_text, "previous": _text(previous)}
    template = step["template"]
    # Measured before substituting: a few steps of {{previous}}{{previous}}... grow exponentially.
    size = len(template) + sum(len(values[m.group(1)]) - len(m.group(0)) for m in PLACEHOLDER.finditer(template))
    if size > MAX_OUTPUT_CHARACTERS:
        raise StepFailed(f"the output would be {size} characters; a step may produce {MAX_OUTPUT_CHARACTERS}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _validate_python(step: dict) -> str | None:
    name = step.get("callable")
    if not isinstance(name, str):
        return "'callable' must be a string"
    registered = callables.REGISTRY.get(name)
    if registered is None:
        known = ", ".join(sorted(callables.REGISTRY))
        return f"unknown callable {name!r} (registered: {known})"
    return registered.validate(step)


def _run_python(step: dict, previous: Any, input_text: str) -> Any:
    return callables.REGISTRY[step["callable"]].fn(previous=previous, input=input_text, step=step)


STEP_TYPES = {
    "template": (_validate_template, _run_template),
    "python": (_validate_python, _run_python),
}


MAX_DEPTH = 32


def _unstorable(value: Any) -> str | None:
    """What in a step definition PostgreSQL's jsonb could not store, or None.

    Refused here with a 400; the insert would otherwise fail with a 500.
    """
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"is nested more than {MAX_DEPTH} levels deep"
        if isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character (\\u0000), which cannot be stored"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains an unpaired surrogate (\\ud800-\\udfff), which is not valid text"
        elif isinstance(item, dict):
            pending.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, list):
            pending.extend((part, depth + 1) for part in item)
    return None


def validate_steps(steps: Any) -> list[str]:
    """Return every problem in a workflow definition, each naming the step index."""
    if not isinstance(steps, list) or not steps:
        return ["steps must be a non-empty list of step objects"]
    if len(steps) > MAX_STEPS:
        return [f"a workflow has at most {MAX_STEPS} steps, got {len(steps)}"]
    problems = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.append(f"steps[{index}]: must be an object with a 'type'")
            continue
        unstorable = _unstorable(step)
        if unstorable:
            problems.append(f"steps[{index}]: {unstorable}")
            continue
        kind = step.get("type")
        if not isinstance(kind, str) or kind not in STEP_TYPES:  # a list or object is unhashable
            known = ", ".join(sorted(STEP_TYPES))
            problems.append(f"steps[{index}]: unknown step type {kind!r} (expected one of: {known})")
            continue
        problem = STEP_TYPES[kind][0](step)
        if problem:
            problems.append(f"steps[{index}] ({kind}): {problem}")
    return problems


@dataclass
class RunResult:
    output: Any = None
    steps: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error


class DynamicWorkflowRunner:
    def __init__(self, workflow):
        self.workflow = workflow

    def run(self, input_text: str) -> RunResult:
        result = RunResult()
        previous: Any = input_text
        for index, step in enumerate(self.workflow.steps):
            kind = step.get("type")
            record = {"index": index, "type": kind, "started_at": timezone.now().isoformat()}
            started = time.monotonic()
            try:
                previous = STEP_TYPES[kind][1](step, previous, input_text)
                record["output"] = previous
            except StepFailed as exc:
                record["error"] = str(exc)
                result.error = f"steps[{index}] ({kind}) failed: {exc}"
            except Exception as exc:  # a broken step must fail its run, not the worker
                record["error"] = f"{type(exc).__name__}: {exc}"
                result.error = f"steps[{index}] ({kind}) crashed: {type(exc).__name__}: {exc}"
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            result.steps.append(record)
            if result.error:
                return result
        result.output = previous
        return result
