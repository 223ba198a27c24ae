"""The ``template`` step: ``{"type": "template", "template": "Video about {{input}}"}``.

Its output is the template with ``{{input}}`` and ``{{previous}}`` filled in; nothing else is evaluated.
"""

from typing import Any

from .base import StepContext
from .placeholders import placeholder_problem, substitute

MAX_TEMPLATE_LENGTH = 64 * 1024


def validate(step: dict) -> str | None:
    template = step.get("template")
    if not isinstance(template, str):
        return "'template' must be a string"
    if len(template) > MAX_TEMPLATE_LENGTH:
        return f"'template' is longer than {MAX_TEMPLATE_LENGTH} characters"
    return placeholder_problem(template, "template")


def may_wait(step: dict) -> bool:
    return False


def run(step: dict, previous: Any, input_text: str, context: StepContext) -> str:
    return substitute(step["template"], previous=previous, input_text=input_text)
