"""``limit`` and ``offset`` query parameters of the list endpoints, checked the same way everywhere."""

from collections.abc import Callable
from dataclasses import dataclass

from rest_framework.request import Request

from .errors import InvalidInput

MAX_OFFSET = 10**9  # far past any real list; keeps the number inside what every database accepts


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int

    def of(self, items):
        """The page's slice of a queryset (or list)."""
        return items[self.offset : self.offset + self.limit]

    def total(self, shown: list, count: Callable[[], int]) -> int:
        """How many items there are in all, given the page of them ``shown``: ``count()``ed only
        when the page cannot tell (it is full, or empty past the first page)."""
        if len(shown) < self.limit and (shown or self.offset == 0):
            return self.offset + len(shown)
        return count()


def _number(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isdigit() alone also accepts digits int() refuses ("²"), and int() refuses very long strings.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not minimum <= int(raw) <= maximum:
        raise InvalidInput(f"{name} must be a whole number from {minimum} to {maximum}")
    return int(raw)


def page_from(request: Request, *, default: int, maximum: int) -> Page:
    return Page(
        limit=_number(request, "limit", default=default, minimum=1, maximum=maximum),
        offset=_number(request, "offset", default=0, minimum=0, maximum=MAX_OFFSET),
    )
