"""Filters in a list's query string (``tag``, ``status``, ``since``/``until``, an id), checked the same
way everywhere: a bad value is a 400 naming the parameter and what it takes, as ``pagination`` does
for ``limit`` and ``offset``."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from rest_framework.request import Request

from . import tags
from .errors import InvalidInput
from .fields import ID_PATTERN

TIME_EXAMPLE = "2025-06-01T09:00:00Z"
_ID = re.compile(ID_PATTERN)


def tags_from(request: Request) -> tuple[str, ...]:
    """The ``tag`` parameters (repeatable: an item must have every one), without duplicates."""
    given = request.query_params.getlist("tag")
    for value in given:
        if not tags.is_tag(value):
            raise InvalidInput(f"tag must be {tags.TAG_RULE}; {tags.shown(value)} is not")
    distinct = tuple(dict.fromkeys(given))
    if len(distinct) > tags.MAX_TAGS:
        # Nothing carries more tags than this, so more could match nothing.
        raise InvalidInput(f"tag: at most {tags.MAX_TAGS} different tags; {len(distinct)} were given")
    return distinct


def choices_from(request: Request, name: str, choices: Sequence[str]) -> tuple[str, ...]:
    """The parameter's values (repeatable: an item may have any one), each one of ``choices``."""
    given = request.query_params.getlist(name)
    for value in given:
        if value not in choices:
            raise InvalidInput(f"{name} must be one of {', '.join(choices)}; {tags.shown(value)} is not")
    return tuple(dict.fromkeys(given))


def time_from(request: Request, name: str) -> datetime | None:
    """An ISO 8601 time with its UTC offset, in UTC."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    refused = InvalidInput(
        f"{name} must be an ISO 8601 time with its UTC offset, like {TIME_EXAMPLE} or 2025-06-01T11:00:00+02:00 "
        f"(in a URL, write + as %2B); {tags.shown(raw)} is not"
    )
    if raw.endswith("z"):
        raw = raw[:-1] + "Z"  # RFC 3339 allows either case; Python reads only "Z"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise refused from None
    if moment.utcoffset() is None:
        raise refused
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise refused from None


def time_range_from(request: Request) -> tuple[datetime | None, datetime | None]:
    """``since`` (included) and ``until`` (left out): a time range, possibly open at either end."""
    since, until = time_from(request, "since"), time_from(request, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until")
    return since, until


def id_from(request: Request, name: str) -> str | None:
    """A job or workflow id."""
    raw = request.query_params.get(name)
    if raw is not None and not _ID.match(raw):
        raise InvalidInput(f"{name} must be 1-200 characters of letters, digits, '.', '_', ':' or '-'")
    return raw
