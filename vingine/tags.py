"""Tags and metadata: the rules jobs and workflows share, checked by the API's fields, the services and
the admin alike.

Tags are a few short words to find things by (``GET /api/cron/jobs?tag=video``); metadata is a small
JSON object the app keeps beside a job or workflow and gets back as it was given.
"""

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db import models

from .errors import InvalidInput

MAX_TAGS = 10
MAX_TAG_LENGTH = 40
TAG_PATTERN = rf"^[A-Za-z0-9_.:-]{{1,{MAX_TAG_LENGTH}}}\Z"
# The same pattern for JSON Schema (ECMA-262: "$" instead of Python's "\Z").
TAG_SCHEMA = {"type": "string", "pattern": rf"^[A-Za-z0-9_.:-]{{1,{MAX_TAG_LENGTH}}}$", "minLength": 1}
TAG_RULE = f"1-{MAX_TAG_LENGTH} characters of letters, digits, '_', '-', '.' or ':'"
METADATA_MAX_BYTES = 4096
METADATA_MAX_DEPTH = 5

_TAG = re.compile(TAG_PATTERN)


class Invalid(ValueError):
    """Tags or metadata that break a rule; the message says what to fix."""


def is_tag(value: Any) -> bool:
    return isinstance(value, str) and _TAG.match(value) is not None


def shown(value: Any) -> str:
    """A value quoted in an error, as JSON, cut short."""
    if isinstance(value, str) and len(value) > 50:
        return json.dumps(value[:50] + "...")
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def clean_tags(value: Any) -> list[str]:
    """The tags as kept: at most MAX_TAGS given, each checked, duplicates dropped (the first kept,
    in order). The count is of what was given, as the schema's maxItems says."""
    if not isinstance(value, (list, tuple)):
        raise Invalid('must be a list of strings, like ["video", "team:growth"]')
    if len(value) > MAX_TAGS:
        raise Invalid(f"{len(value)} tags given; at most {MAX_TAGS} are allowed")
    tags: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f'must be a list of strings, like ["video", "team:growth"]; {shown(item)} is not one')
        if not is_tag(item):
            raise Invalid(f"{shown(item)} is not a valid tag: each tag is {TAG_RULE}")
        if item not in tags:
            tags.append(item)
    return tags


def clean_metadata(value: Any) -> dict:
    """The metadata as kept: a JSON object of at most METADATA_MAX_BYTES as JSON, at most
    METADATA_MAX_DEPTH levels deep, holding nothing PostgreSQL's jsonb could not store."""
    if not isinstance(value, dict):
        raise Invalid('must be a JSON object, like {"team": "growth"}')
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > METADATA_MAX_DEPTH:
                raise Invalid(
                    f"is nested more than {METADATA_MAX_DEPTH} levels deep (the object itself is level 1); flatten it"
                )
            parts = [part for pair in item.items() for part in pair] if isinstance(item, dict) else item
            pending.extend((part, depth + 1) for part in parts)
        elif isinstance(item, str):
            # Refused here with a 400: the insert would otherwise fail with a 500.
            if "\x00" in item:
                raise Invalid("contains a NUL character (\\u0000), which cannot be stored")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise Invalid("contains an unpaired surrogate (\\ud800-\\udfff), which is not valid text") from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise Invalid("contains a number too large to store")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > METADATA_MAX_BYTES:
        raise Invalid(f"is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES} bytes")
    return value


def checked(tags: Sequence[str], metadata: dict) -> tuple[list[str], dict]:
    """Both as kept, for a service: a rule broken is an InvalidInput naming the field."""
    try:
        tags = clean_tags(tags)
    except Invalid as exc:
        raise InvalidInput(f"tags: {exc}") from None
    try:
        return tags, clean_metadata(metadata)
    except Invalid as exc:
        raise InvalidInput(f"metadata: {exc}") from None


def write_tag_rows(
    rows: models.QuerySet, row: Callable[[str], models.Model], tags: list[str], old_tags: list[str]
) -> None:
    """Make ``rows`` (one thing's tag rows, which hold ``old_tags``) hold ``tags``, each new one made
    by ``row``; in the caller's transaction, and without a statement when the tags are unchanged."""
    if set(tags) == set(old_tags):
        return
    if old_tags:
        rows.exclude(tag__in=tags).delete()
    added = [tag for tag in tags if tag not in old_tags]
    if added:
        rows.model.objects.bulk_create([row(tag) for tag in added])
