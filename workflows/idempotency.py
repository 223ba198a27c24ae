"""Idempotency-Key on the requests that start runs (trigger, run a workflow, rerun, backfill).

A client that retries such a request (a timeout, a double click) sends the same key: within
IDEMPOTENCY_KEY_HOURS the same user's same key gets the first answer again, with the same run ids,
and nothing new starts. The same key with another request (another endpoint or body) is a 409.
Requests with one key are serialised by a lock on the key, so concurrent ones start one run.
Only successful answers are kept: a refused request may be sent again with its key.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from vingine.errors import Conflict, InvalidInput, QueueUnavailable
from vingine.sql import lock_for_transaction

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

PARAMETER = OpenApiParameter(
    HEADER,
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=f"Any string of 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID. The same key "
    f"with the same request within {settings.IDEMPOTENCY_KEY_HOURS} h returns the first answer (header "
    f"{REPLAYED}: true) and starts nothing; with another request it is a 409.",
)


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    seen = f"{request.method} {request.path.rstrip('/')}\n{body}"
    return hashlib.sha256(seen.encode()).hexdigest()


def _valid(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= character <= "~" for character in key)


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a view method that starts runs so that it honours Idempotency-Key."""

    @functools.wraps(view)
    def answer(self, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not _valid(key):
            raise InvalidInput(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                lock_for_transaction(f"idempotency:{request.user.pk}:{key}")
                kept = IdempotentRequest.objects.filter(owner=request.user, key=key).first()
                fresh = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
                if kept is not None and kept.created_at > fresh:
                    if kept.fingerprint != fingerprint:
                        raise Conflict(
                            f"{HEADER} {key} was used for a different request (another endpoint or body) "
                            f"within {settings.IDEMPOTENCY_KEY_HOURS} h; send a new key for a new request"
                        )
                    return Response(kept.response, headers={REPLAYED: "true"})
                response = view(self, request, *args, **kwargs)
                IdempotentRequest.objects.update_or_create(
                    owner=request.user,
                    key=key,
                    defaults={"fingerprint": fingerprint, "response": response.data, "created_at": timezone.now()},
                )
                return response
        except QueueUnavailable:
            # The run was recorded failed after the commit (vingine's 503): a retry with the same
            # key must start it again, not be told of the failed one.
            IdempotentRequest.objects.filter(owner=request.user, key=key).delete()
            raise

    return answer


def forget_expired() -> int:
    """Delete keys older than IDEMPOTENCY_KEY_HOURS (run with the history trim)."""
    older = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=older).delete()
    return deleted
