"""``{{input}}`` and ``{{previous}}`` substitution, shared by template steps and http bodies.

Plain substitution: the only names are input and previous, nothing is evaluated.
"""

import json
import re
from typing import Any

from .base import StepFailed

MAX_OUTPUT_CHARACTERS = 256 * 1024
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PLACEHOLDERS = ("input", "previous")


def text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    # Structured outputs are substituted as JSON, the form a webhook or the next step can read.
    return json.dumps(value, default=str)


def placeholder_problem(template: str, where: str) -> str | None:
    for name in PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{{{name}}}}} in {where} (only {{{{input}}}} and {{{{previous}}}})"
    return None


def substitute(template: str, *, previous: Any, input_text: str) -> str:
    values = {"input": input_text, "previous": text(previous)}
    # Measured before substituting: a few steps of {{previous}}{{previous}}... grow exponentially.
    size = len(template) + sum(len(values[m.group(1)]) - len(m.group(0)) for m in PLACEHOLDER.finditer(template))
    if size > MAX_OUTPUT_CHARACTERS:
        raise StepFailed(f"the output would be {size} characters; a step may produce {MAX_OUTPUT_CHARACTERS}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
