"""JWT authentication for two kinds of bearer tokens.

* Tokens this service issues (``POST /api/auth/token``): simplejwt access tokens, ``sub`` is the
  username, ``token_type`` is ``access``.
* Tokens from an external identity provider (Supabase style): ``sub`` is the user's UUID, ``aud``
  is ``authenticated``, no ``token_type`` and no ``jti``. Either HS256 with the shared secret, or,
  with JWT_JWKS_URL set, signed with one of the provider's published keys (``vingine.jwks``).

All are verified by simplejwt (signature, algorithm, ``exp``, audience, issuer). The first time a
valid ``sub`` is seen it becomes a local, non-staff user, so ownership rows have someone to point at.

Every way a token can be wrong ends in ``TokenError`` (401), never in an exception of the decoder
or the database: the checks below run before any claim is used.
"""

import functools
import unicodedata

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models
from rest_framework_simplejwt import authentication, serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from . import jwks
from .models import ApiRateLimit
from .rows import Joined

MAX_SUB_LENGTH = 150  # Django's username length
# Ours are ~300 bytes, a provider's with custom claims a few KiB; gunicorn refuses any header line
# above 8190 bytes anyway. A longer one is refused before it is decoded.
MAX_TOKEN_BYTES = 8 * 1024


def _sub_problem(sub) -> str | None:
    """Why ``sub`` cannot name a user, or None. It becomes a username, stored and shown as-is."""
    if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB_LENGTH:
        return "Token has no usable sub claim (a string of 1 to 150 characters)"
    # Control characters (NUL above all: PostgreSQL refuses it) and lone surrogates (not encodable).
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in sub):
        return "Token's sub claim contains control or surrogate characters"
    return None


class CheckedClaims:
    """Size and claim checks shared by access and refresh tokens, on top of simplejwt's own."""

    def __init__(self, token=None, verify: bool = True) -> None:
        if token is not None and len(token) > MAX_TOKEN_BYTES:
            raise TokenError(f"Token is longer than {MAX_TOKEN_BYTES} bytes")
        super().__init__(token, verify)

    def check_exp(self, claim: str = "exp", current_time=None) -> None:
        try:
            super().check_exp(claim, current_time)
        except (OverflowError, ValueError, OSError):
            # A number past year 9999 (or NaN): PyJWT accepts it, datetime cannot hold it.
            raise TokenError(f"Token has an invalid '{claim}' claim") from None

    def verify(self) -> None:
        self.check_exp()
        if "iat" in self.payload:
            iat = self.payload["iat"]
            # PyJWT has already refused an iat in the future or not a number; int() lets a boolean pass.
            if isinstance(iat, bool) or not isinstance(iat, (int, float)):
                raise TokenError("Token has an invalid iat claim")
        if api_settings.USER_ID_CLAIM in self.payload:
            problem = _sub_problem(self.payload[api_settings.USER_ID_CLAIM])
            if problem:
                raise TokenError(problem)


class BearerToken(CheckedClaims, AccessToken):
    """An access token of ours, or an external one that has no ``token_type``/``jti``.

    A refresh token (``token_type: refresh``) is still refused: it lives for days and must only be
    exchanged at ``/api/auth/token/refresh``.
    """

    def get_token_backend(self):
        # An asymmetric token is checked against the provider's published keys, never JWT_SECRET.
        if self.token is not None and jwks.is_provider_token(self.token):
            return jwks.backend
        return super().get_token_backend()

    def verify(self) -> None:
        super().verify()
        if api_settings.TOKEN_TYPE_CLAIM in self.payload:
            self.verify_token_type()


class CheckedRefreshToken(CheckedClaims, RefreshToken):
    def verify(self) -> None:
        super().verify()
        RefreshToken.verify(self)  # simplejwt's: token type, jti, blacklist


@functools.cache
def _users() -> tuple[Joined, str]:
    """The read of ``_user_named``, built once (the user model is known once apps are loaded)."""
    User = get_user_model()
    users = Joined(User, extra=[("api_requests_per_minute", models.IntegerField())])
    quote = connection.ops.quote_name
    limits = ApiRateLimit._meta
    sql = (
        f"SELECT {users.columns}, l.{quote(limits.get_field('requests_per_minute').column)} FROM {users.tables}"
        f" LEFT OUTER JOIN {quote(limits.db_table)} l"
        f" ON l.{quote(limits.get_field('owner').column)} = t0.{quote(User._meta.pk.column)}"
        f" WHERE t0.{quote(User._meta.get_field(User.USERNAME_FIELD).column)} = %s"
    )
    return users, sql


def _user_named(username: str):
    """``User.objects.get(username=...)``, from SQL built once (``vingine.rows``): every request asks
    it. The user's own API rate limit comes along (``api_requests_per_minute``, None for the
    default), read by the throttle of the same request."""
    users, sql = _users()
    found = users.fetch(sql, [username])
    if not found:
        raise get_user_model().DoesNotExist(f"No user {username!r}")
    return found[0]


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        sub = validated_token.get(api_settings.USER_ID_CLAIM)
        problem = _sub_problem(sub) if sub is not None else "Token has no usable sub claim"
        if problem:
            raise InvalidToken(problem)
        User = get_user_model()
        try:
            user = _user_named(sub)
        except User.DoesNotExist:
            try:
                user = User.objects.create_user(username=sub)  # unusable password
                user.api_requests_per_minute = None
            except IntegrityError:
                # Two first requests of the same new user raced; the other one created the row.
                user = User.objects.get(username=sub)
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    """simplejwt looks the refresh token's user up with ``.get()``: a deleted user would answer 500."""

    token_class = CheckedRefreshToken

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], code="no_active_account") from None
