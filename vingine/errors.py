"""One error shape for the whole API: ``{"detail": "<what went wrong and what to fix>"}``.

Services raise ``ApplicationError`` subclasses; DRF and simplejwt raise their own exceptions. The
handler below renders both the same way, so a client only ever parses ``detail``.
"""

import logging
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again in a few seconds"


def database_unavailable(detail: str = DATABASE_UNAVAILABLE) -> JsonResponse:
    """The 503 for a database that is down or went away: the error shape, and when to try again."""
    return JsonResponse({"detail": detail}, status=503, headers={"Retry-After": "5"})


class ApplicationError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ApplicationError):
    status_code = status.HTTP_400_BAD_REQUEST


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT


class QueueUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class TooManyRequests(exceptions.Throttled):
    """A 429; DRF's handler adds Retry-After from ``wait``."""

    default_detail = "Too many requests from this user."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error structure into 'field: message' sentences."""
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages": [...]}.
        if "messages" in detail and "detail" in detail:
            reasons = [str(m.get("message", "")) for m in detail["messages"] if isinstance(m, dict)]
            reasons = [r for r in reasons if r]
            return [f"{detail['detail']}: {'; '.join(reasons)}" if reasons else str(detail["detail"])]
        if "detail" in detail and len(detail) <= 2:
            return _flatten(detail["detail"], prefix)
        out: list[str] = []
        for key, value in detail.items():
            name = "body" if key == "non_field_errors" else str(key)
            out.extend(_flatten(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}"))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            # A list of messages for one field reads as one sentence; a list of objects names indexes.
            sub = prefix if not isinstance(item, (dict, list)) else f"{prefix}[{index}]"
            out.extend(_flatten(item, sub))
        return out
    message = str(detail)
    return [f"{prefix}: {message}" if prefix else message]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.detail}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif type(exc) is exceptions.Throttled:  # a throttle's, in our words
        exc = TooManyRequests(exc.wait)

    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The database went away mid-request (restart, failover). Nothing half-done is kept: the
        # transaction either committed whole or not at all. But when the connection died during
        # COMMIT itself, the server may have committed it, and nobody here can tell which.
        request = context["request"]
        logger.warning("database error during %s %s: %r", request.method, request.path, exc)
        detail = DATABASE_UNAVAILABLE
        if request.method not in SAFE_METHODS:
            detail = (
                "The database became unavailable during the request, so the change may or may not "
                "have been saved; read it back in a few seconds before retrying"
            )
        return database_unavailable(detail)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ParseError):
        response.data = {"detail": f"Request body is not valid JSON: {exc.detail}"}
    else:
        response.data = {"detail": "; ".join(_flatten(getattr(exc, "detail", response.data)))}
    return response


# Django's own error views, for what never reaches a DRF view (no route matched, a disallowed Host,
# an unhandled exception): the same shape under /api/, the stock pages elsewhere (admin).


def bad_request(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request"}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"No such endpoint: {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error"}, status=500)
    return defaults.server_error(request)
