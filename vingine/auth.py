"""JWT authentication for two kinds of bearer tokens.

* Tokens this service issues (``POST /api/auth/token``): simplejwt access tokens, ``sub`` is the
  username, ``token_type`` is ``access``.
* Tokens from an external identity provider sharing the secret (Supabase style): HS256, ``sub`` is
  the user's UUID, ``aud`` is ``authenticated``, no ``token_type`` and no ``jti``.

Both are verified by simplejwt (signature, algorithm, ``exp``, audience, issuer). The first time a
valid ``sub`` is seen it becomes a local, non-staff user, so ownership rows have someone to point at.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from rest_framework_simplejwt import authentication, serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

MAX_SUB_LENGTH = 150  # Django's username length


class BearerToken(AccessToken):
    """An access token of ours, or an external one that has no ``token_type``/``jti``.

    A refresh token (``token_type: refresh``) is still refused: it lives for days and must only be
    exchanged at ``/api/auth/token/refresh``.
    """

    def verify(self) -> None:
        self.check_exp()
        if api_settings.TOKEN_TYPE_CLAIM in self.payload:
            self.verify_token_type()
        if "iat" in self.payload and not isinstance(self.payload["iat"], (int, float)):
            raise TokenError("Token has an invalid iat claim")


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        sub = validated_token.get(api_settings.USER_ID_CLAIM)
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
            raise InvalidToken("Token has no usable sub claim (a string of 1 to 150 characters)")
        User = get_user_model()
        try:
            user = User.objects.get(username=sub)
        except User.DoesNotExist:
            try:
                user = User.objects.create_user(username=sub)  # unusable password
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

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], code="no_active_account") from None
