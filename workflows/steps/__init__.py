"""Step types, one module each (``template``, ``python``, ``http``) on the shared ``base``, and the
check of a whole workflow definition (``validate_steps``) that the API and the admin run on save."""

from typing import Any

from . import http, python, template
from .base import StepType

STEP_TYPES: dict[str, StepType] = {"template": template, "python": python, "http": http}

MAX_STEPS = 50
MAX_RETRIES = 10
MAX_DEPTH = 32


def may_wait(steps: list[dict]) -> bool:
    """Whether running these (valid) steps may wait on the network or a sleep."""
    return any(STEP_TYPES[step["type"]].may_wait(step) for step in steps)


def _validate_common(step: dict) -> str | None:
    retries = step.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        return f"'retries' must be a whole number from 0 to {MAX_RETRIES}, got {retries!r}"
    return None


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
        problem = _validate_common(step) or STEP_TYPES[kind].validate(step)
        if problem:
            problems.append(f"steps[{index}] ({kind}): {problem}")
    return problems
