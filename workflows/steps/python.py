"""The ``python`` step: ``{"type": "python", "callable": "echo"}`` calls a registered callable.

Users pick a callable by name; only functions registered here in code can ever run, so a workflow
definition can never smuggle in arbitrary code. Operators add their own with ``@register``.

A callable receives the value flowing into the step (``previous``; the run's input for the first
step), the run's ``input``, and the step's own parameters; it returns the step's output.
"""

import time
from collections.abc import Callable
from typing import Any

from .base import StepContext, StepFailed

MAX_SLEEP_SECONDS = 300


class Registered:
    def __init__(self, fn: Callable[..., Any], validate: Callable[[dict], str | None] | None, waits: bool):
        self.fn = fn
        self.validate = validate or (lambda params: None)
        self.waits = waits


REGISTRY: dict[str, Registered] = {}


def register(name: str, *, validate: Callable[[dict], str | None] | None = None, waits: bool = True):
    """Register ``fn`` under ``name``; ``validate(step)`` returns a problem to refuse the step with.
    ``waits=False`` says it never waits on anything (no network, no sleep)."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = Registered(fn, validate, waits)
        return fn

    return decorator


def validate(step: dict) -> str | None:
    name = step.get("callable")
    if not isinstance(name, str):
        return "'callable' must be a string"
    registered = REGISTRY.get(name)
    if registered is None:
        known = ", ".join(sorted(REGISTRY))
        return f"unknown callable {name!r} (registered: {known})"
    return registered.validate(step)


def may_wait(step: dict) -> bool:
    return REGISTRY[step["callable"]].waits


def run(step: dict, previous: Any, input_text: str, context: StepContext) -> Any:
    return REGISTRY[step["callable"]].fn(previous=previous, input=input_text, step=step)


# --- the callables every installation has, for smoke tests ----------------------------------------


@register("echo", waits=False)
def echo(*, previous: Any, input: str, step: dict) -> Any:
    return previous


def _validate_sleep(step: dict) -> str | None:
    seconds = step.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "'seconds' must be a number"
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        return f"'seconds' must be between 0 and {MAX_SLEEP_SECONDS}"
    return None


@register("sleep", validate=_validate_sleep)
def sleep(*, previous: Any, input: str, step: dict) -> Any:
    time.sleep(step.get("seconds", 0))
    return previous


def _validate_fail(step: dict) -> str | None:
    if not isinstance(step.get("message", ""), str):
        return "'message' must be a string"
    return None


@register("fail", validate=_validate_fail, waits=False)
def fail(*, previous: Any, input: str, step: dict) -> Any:
    raise StepFailed(step.get("message") or "Step failed on purpose")
