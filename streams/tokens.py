"""Stream tokens: what a stream may carry (one owner's runs, maybe only one job's or one run's),
signed with SECRET_KEY, good for connecting for STREAM_TOKEN_SECONDS.

Browsers' EventSource cannot send an Authorization header, so the token rides in the stream's
URL; short-lived and scoped, it is worth little if it leaks from a log. Checking one costs no
database read: the stream server only asks whether its caller is still active.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

SALT = "vingine.streams.token"


class Refused(Exception):
    """The token cannot open a stream; the message says why and what to do."""


@dataclass(frozen=True)
class StreamScope:
    caller_id: int  # who asked for the token
    owner_id: int  # whose runs the stream carries (the job's owner when staff watch someone's job)
    job_pk: str = ""  # only this job's runs, when set (as the events carry it: text)
    run_id: str = ""  # only this run, when set

    def wants(self, job_pk: str, run_id: str) -> bool:
        """Whether an event of the owner's run ``run_id`` of job ``job_pk`` belongs on the stream."""
        return (not self.job_pk or self.job_pk == job_pk) and (not self.run_id or self.run_id == run_id)


def issue(scope: StreamScope) -> tuple[str, datetime]:
    """A token for ``scope`` and the time it stops opening streams."""
    claims = {"c": scope.caller_id, "u": scope.owner_id, "j": scope.job_pk, "r": scope.run_id}
    token = signing.dumps(claims, salt=SALT, compress=True)
    return token, timezone.now() + timedelta(seconds=settings.STREAM_TOKEN_SECONDS)


def read(token: str) -> StreamScope:
    if not token:
        raise Refused("No stream token: ask POST /api/stream/token for a stream URL")
    try:
        claims = signing.loads(token, salt=SALT, max_age=settings.STREAM_TOKEN_SECONDS)
    except signing.SignatureExpired:
        raise Refused("The stream token has expired: ask POST /api/stream/token for a new one") from None
    except signing.BadSignature:
        raise Refused("The stream token is not valid: ask POST /api/stream/token for a new one") from None
    return StreamScope(caller_id=claims["c"], owner_id=claims["u"], job_pk=claims["j"], run_id=claims["r"])
