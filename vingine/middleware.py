import logging
import time

from django import db
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from vingine.errors import database_unavailable

logger = logging.getLogger(__name__)


class BodySizeLimitMiddleware:
    """Refuse oversized bodies up front with the API's error shape (413), before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return JsonResponse({"detail": "Content-Length header is not a number of bytes"}, status=400)
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body is {length} bytes; the limit is {limit} bytes (1 MiB)"}, status=413
            )
        if "CONTENT_LENGTH" not in request.META and request.META.get("HTTP_TRANSFER_ENCODING"):
            # Django reads no more than Content-Length says: a chunked body would be taken for an
            # empty one, and the request refused for fields it did send.
            return JsonResponse(
                {"detail": "Send the body with a Content-Length header; chunked bodies are not read"}, status=411
            )
        return self.get_response(request)


class DatabaseWaitMiddleware:
    """Hold a request while the database restarts or fails over, up to DATABASE_WAIT_SECONDS,
    instead of failing it at once; past that, a 503 the client can retry (Retry-After).

    Only the connection is waited for, before the view runs: a query that fails mid-request is not
    repeated (its transaction may have done part of its work), and comes back as a 503 from the
    API's error handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.rstrip("/") == "/health":
            return self.get_response(request)  # it reports the database's state itself, at once
        deadline = time.monotonic() + settings.DATABASE_WAIT_SECONDS
        while True:
            try:
                # A kept connection the server has dropped is replaced (CONN_HEALTH_CHECKS).
                connection.close_if_health_check_failed()
                connection.ensure_connection()
                break
            except (db.OperationalError, db.InterfaceError) as exc:
                connection.close()
                if time.monotonic() >= deadline:
                    logger.warning("database unreachable for %ss: %r", settings.DATABASE_WAIT_SECONDS, exc)
                    return database_unavailable()
                time.sleep(0.25)
        return self.get_response(request)
