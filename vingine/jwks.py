"""An identity provider's asymmetric tokens (RS256, ES256, ...), verified with its published keys.

With JWT_JWKS_URL set, a bearer token whose header names any algorithm but HMAC is verified here;
HS tokens keep being verified with JWT_SECRET only (``vingine.auth``), whatever ``kid`` they carry.

* The key is the JWKS entry named by the token's ``kid``, and the algorithm is the key's (its
  ``alg``, else its type and curve), never the token's: a token whose header names another
  algorithm is refused. Symmetric keys (``kty: oct``) in a JWKS are never used, so a published (or
  planted) secret cannot sign tokens.
* Keys are kept per process: fetched at the first such token and again every
  JWT_JWKS_CACHE_SECONDS. A token naming a key not among them (the provider rotated its keys)
  fetches them at once, but at most once per JWT_JWKS_REFETCH_SECONDS, so that made-up ``kid``s
  cannot make every request call the provider.
* While the provider is unreachable, keys already fetched keep verifying. A token naming an unknown
  key then gets a 503 with Retry-After: whether its key is real cannot be told, so it is neither
  accepted nor called invalid.
"""

import logging
import math
import threading
import time

import httpx
import jwt
from django.conf import settings
from jwt.exceptions import ExpiredSignatureError, PyJWTError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework_simplejwt import state
from rest_framework_simplejwt.exceptions import TokenBackendExpiredToken, TokenError

logger = logging.getLogger(__name__)

# What a published key may verify: signatures whose verification needs no secret.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class KeysUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The identity provider's signing keys cannot be fetched, so the token cannot be checked"
    default_code = "jwks_unavailable"

    def __init__(self, wait: int) -> None:
        super().__init__(f"{self.default_detail}; try again in {wait} seconds")
        self.wait = wait  # DRF's exception handler sends it as Retry-After


def is_provider_token(token: str | bytes) -> bool:
    """Whether ``token`` is for the provider's keys rather than JWT_SECRET."""
    if not settings.JWT_JWKS_URL:
        return False
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except (PyJWTError, ValueError, TypeError):
        return False  # unreadable: JWT_SECRET's path refuses it as it always has
    return not (isinstance(algorithm, str) and algorithm.startswith("HS"))


def _fetch(url: str) -> dict[str, jwt.PyJWK]:
    response = httpx.get(url, timeout=settings.JWT_JWKS_TIMEOUT_SECONDS, headers={"Accept": "application/json"})
    response.raise_for_status()
    document = response.json()
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the document has no list of keys")
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") == "oct" or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        try:
            key = jwt.PyJWK(entry)
        except (PyJWTError, ValueError, TypeError, KeyError) as exc:
            logger.warning("JWKS key %r left out: %s", kid, exc)
            continue
        if isinstance(kid, str) and kid and key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[kid] = key
    return keys


class KeySet:
    """The provider's keys by ``kid``, as last fetched."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, url: str | None) -> None:
        self._url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._failing = False

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``; None when the provider does not publish it. Raises
        KeysUnavailable when the keys cannot be fetched and ``kid`` is not among those we have."""
        url = settings.JWT_JWKS_URL
        key = self._keys.get(kid)
        fresh = time.monotonic() - self._fetched_at < settings.JWT_JWKS_CACHE_SECONDS
        if key is not None and fresh and url == self._url:
            return key
        with self._lock:
            if url != self._url:
                self._reset(url)
            now = time.monotonic()
            stale = now - self._fetched_at >= settings.JWT_JWKS_CACHE_SECONDS
            if (stale or kid not in self._keys) and now - self._attempted_at >= settings.JWT_JWKS_REFETCH_SECONDS:
                self._refresh(url, now)
            key = self._keys.get(kid)
            if key is None and self._failing:
                wait = settings.JWT_JWKS_REFETCH_SECONDS - (time.monotonic() - self._attempted_at)
                raise KeysUnavailable(max(1, math.ceil(wait)))
            return key

    def _refresh(self, url: str, now: float) -> None:
        self._attempted_at = now
        try:
            self._keys = _fetch(url)
        except (httpx.HTTPError, ValueError) as exc:
            # Keys already fetched stay: tokens signed with them keep verifying while it is down.
            logger.warning("JWKS not fetched from %s: %r", url, exc)
            self._failing = True
            return
        self._fetched_at = now
        self._failing = False


keys = KeySet()


class ProviderTokenBackend:
    """simplejwt's TokenBackend for the provider's tokens: decodes and verifies, issues nothing."""

    def get_leeway(self):
        return state.token_backend.get_leeway()

    def decode(self, token: str | bytes, verify: bool = True) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except (PyJWTError, ValueError, TypeError):
            raise TokenError("Token is invalid") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("Token names no signing key (kid)")
        key = keys.key(kid)
        if key is None:
            raise TokenError("Token's signing key is not one the identity provider publishes")
        if header.get("alg") != key.algorithm_name:
            raise TokenError(f"Token's algorithm is not its key's ({key.algorithm_name})")
        backend = state.token_backend  # the audience and issuer our own tokens are checked against
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=backend.audience,
                issuer=backend.issuer,
                leeway=backend.get_leeway(),
                options={"verify_aud": backend.audience is not None, "verify_signature": verify},
            )
        except ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except PyJWTError:
            raise TokenError("Token is invalid") from None


backend = ProviderTokenBackend()
