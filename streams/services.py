from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.request import Request

from cronjobs.selectors import job_get_for
from workflows.selectors import run_get_for

from . import tokens
from .tokens import StreamScope

STREAM_PATH = "/api/stream/runs"


@dataclass(frozen=True)
class StreamToken:
    token: str
    url: str
    expires_at: datetime
    job_id: str | None
    run_id: str | None


def stream_token_issue(
    *, user: AbstractBaseUser, request: Request, job_id: str | None = None, run_id: str | None = None
) -> StreamToken:
    """A token for a stream of ``user``'s runs, or of one job's or one run's they may see (staff:
    anyone's), and the URL that opens it."""
    scope = StreamScope(caller_id=user.pk, owner_id=user.pk)
    if job_id is not None:
        job = job_get_for(user=user, job_id=job_id, action="watch", last_run=False)
        scope = StreamScope(caller_id=user.pk, owner_id=job.owner_id, job_pk=str(job.pk))
    elif run_id is not None:
        run = run_get_for(user=user, run_id=run_id, action="watch")
        scope = StreamScope(caller_id=user.pk, owner_id=run.owner_id, run_id=str(run.id))
    token, expires_at = tokens.issue(scope)
    url = f"{stream_base_url(request)}{STREAM_PATH}?{urlencode({'token': token})}"
    return StreamToken(token=token, url=url, expires_at=expires_at, job_id=job_id, run_id=scope.run_id or None)


def stream_base_url(request: Request) -> str:
    """Where clients reach the stream server: STREAM_PUBLIC_URL, or this API's host on STREAM_PORT."""
    if settings.STREAM_PUBLIC_URL:
        return settings.STREAM_PUBLIC_URL.rstrip("/")
    host = request.get_host()
    if host.endswith("]") or ":" not in host:  # no port (an IPv6 address ends with "]")
        hostname = host
    else:
        hostname = host.rsplit(":", 1)[0]
    return f"{request.scheme}://{hostname}:{settings.STREAM_PORT}"
