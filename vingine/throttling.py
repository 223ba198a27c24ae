"""Rate limits, counted in Redis so that every web process shares them.

* Sign-ins (``POST /api/auth/token`` and the admin's login): failed attempts are counted per
  username and per client address. Past LOGIN_MAX_FAILURES_PER_USERNAME or
  LOGIN_MAX_FAILURES_PER_ADDRESS within LOGIN_FAILURE_WINDOW_SECONDS, attempts are refused with a 429
  before the password is checked, so guessing goes no further even with the right password.
* Signed-in users' requests: at most API_RATE_LIMIT_PER_MINUTE a minute, or the user's own
  ``ApiRateLimit``; a DRF throttle (DEFAULT_THROTTLE_CLASSES).

Each counter counts from its first hit and expires one window later; its remaining time is the
answer's Retry-After. While Redis is unreachable nothing is limited: a sign-in or a request is let
through (and that is logged) rather than refused or failed.
"""

import functools
import hashlib
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from .models import ApiRateLimit

logger = logging.getLogger(__name__)

PREFIX = "vingine:throttle:"
# The count and its expiry in one step: a counter left without an expiry (a process killed
# between two commands) would refuse its user for good.
HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
# After Redis fails, each process leaves it alone this long: a Redis that does not answer would
# otherwise add its timeout to every request.
REDIS_RETRY_SECONDS = 5.0
_redis_down_until = 0.0
_UNKNOWN = object()


class TooManySignIns(Throttled):
    # Not vingine.errors': that module imports DRF's views, which import this one.
    default_detail = "Too many failed sign-ins for this username or from this address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


@functools.cache
def _connection(url: str) -> tuple[redis.Redis, Any]:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client, client.register_script(HIT)


def _with_redis(call: Callable[[redis.Redis, Any], Any]) -> Any:
    """``call(client, hit_script)``, or None while Redis is unreachable."""
    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return None
    try:
        return call(*_connection(settings.REDIS_URL))
    except redis.RedisError as exc:
        _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        logger.warning("rate limits not applied for %.0f s: Redis is unreachable (%r)", REDIS_RETRY_SECONDS, exc)
        return None


def _hit(key: str, window: int) -> tuple[int, int] | None:
    """Count one against ``key``: (count in the window, seconds until the window ends)."""
    found = _with_redis(lambda client, script: script(keys=[key], args=[window], client=client))
    return None if found is None else (int(found[0]), max(1, int(found[1])))


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or with TRUSTED_PROXY_COUNT proxies in front, the
    one the outermost proxy saw (each proxy appends its peer to X-Forwarded-For; what comes before
    that was written by the client and proves nothing)."""
    address = request.META.get("REMOTE_ADDR") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return address


def _address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return hashlib.sha256(address.encode()).hexdigest()
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One subscriber usually holds a whole /64: counting single addresses would let it rotate.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class SignInAttempt:
    """One sign-in, counted against its username and its client address."""

    def __init__(self, username: Any, address: str) -> None:
        self.username = username if isinstance(username, str) and username else None
        self.address = address
        self.counters: list[tuple[str, int]] = [
            (f"{PREFIX}signin:address:{_address_key(address)}", settings.LOGIN_MAX_FAILURES_PER_ADDRESS)
        ]
        if self.username is not None:
            digest = hashlib.sha256(self.username.encode("utf-8", "surrogatepass")).hexdigest()
            self.counters.append((f"{PREFIX}signin:username:{digest}", settings.LOGIN_MAX_FAILURES_PER_USERNAME))

    def refused_for(self) -> int | None:
        """Seconds until this username and address may try again, or None if they may now."""

        def read(client: redis.Redis, script: Any) -> list:
            pipeline = client.pipeline(transaction=False)
            for key, _ in self.counters:
                pipeline.get(key)
                pipeline.ttl(key)
            return pipeline.execute()

        found = _with_redis(read)
        if found is None:
            return None
        wait = 0
        for index, (_, limit) in enumerate(self.counters):
            count, ttl = found[2 * index], found[2 * index + 1]
            if count is not None and int(count) >= limit:
                wait = max(wait, ttl, 1)
        if not wait:
            return None
        logger.warning(
            "sign-in refused for username %r from %s: too many failed attempts; may retry in %d s",
            self.username,
            self.address,
            wait,
        )
        return wait

    def check(self) -> None:
        """Raise TooManySignIns (429 with Retry-After) when this attempt must not be tried."""
        wait = self.refused_for()
        if wait:
            raise TooManySignIns(wait)

    def failed(self) -> None:
        for key, limit in self.counters:
            hit = _hit(key, settings.LOGIN_FAILURE_WINDOW_SECONDS)
            if hit and hit[0] == limit:
                logger.warning(
                    "sign-ins %s refused for %d s after %d failed attempts (username %r from %s)",
                    "from this address" if ":address:" in key else "for this username",
                    hit[1],
                    limit,
                    self.username,
                    self.address,
                )

    def succeeded(self) -> None:
        """Someone who knows the password starts afresh; the address keeps its count, which a
        guesser with one account of its own could otherwise reset."""
        keys = [key for key, _ in self.counters if ":username:" in key]
        if keys:
            _with_redis(lambda client, script: client.delete(*keys))


def guard_login_view(login: Callable) -> Callable:
    """The admin site's login view, with sign-in attempts counted and refused as the API's are."""

    @functools.wraps(login)
    def guarded(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method != "POST":
            return login(request, extra_context)
        attempt = SignInAttempt(request.POST.get("username"), client_address(request))
        wait = attempt.refused_for()
        if wait:
            return HttpResponse(
                f"{TooManySignIns.default_detail} Try again in {wait} seconds.\n",
                status=429,
                headers={"Retry-After": str(wait)},
                content_type="text/plain; charset=utf-8",
            )
        response = login(request, extra_context)
        # Signed in, the view redirects; refused, it shows the form again.
        if response.status_code == 200:
            attempt.failed()
        elif 300 <= response.status_code < 400:
            attempt.succeeded()
        return response

    return guarded


def requests_per_minute(user: Any) -> int:
    """The user's limit (0: none). The API's authentication reads a user's ``ApiRateLimit`` along
    with the user (``vingine.auth``); a user from elsewhere costs a query."""
    own = getattr(user, "api_requests_per_minute", _UNKNOWN)
    if own is _UNKNOWN:
        own = ApiRateLimit.objects.filter(owner=user).values_list("requests_per_minute", flat=True).first()
    return settings.API_RATE_LIMIT_PER_MINUTE if own is None else own


class UserRateThrottle(BaseThrottle):
    """A signed-in user's requests per minute; a 429 with Retry-After beyond them."""

    wait_seconds: int | None = None

    def allow_request(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return True
        limit = requests_per_minute(user)
        if not limit:
            return True
        hit = _hit(f"{PREFIX}user:{user.pk}", 60)
        if hit is None:
            return True
        count, self.wait_seconds = hit
        return count <= limit

    def wait(self) -> int | None:
        return self.wait_seconds
