"""POST /api/auth/token and /api/auth/token/refresh: simplejwt's views, with their schema; sign-ins
are counted and refused past their limits (``vingine.throttling``)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import views

from . import throttling
from .schema import error_responses


class TokenPair(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for the API.")
    refresh = serializers.CharField(help_text="For POST /api/auth/token/refresh.")


class AccessOnly(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for the API.")


TOKEN_EXAMPLES = {
    400: [("Missing field", "password: This field is required.")],
    401: [("Wrong password", "No active account found with the given credentials")],
    429: [
        (
            "Too many failed sign-ins",
            "Too many failed sign-ins for this username or from this address. Try again in 840 seconds.",
        )
    ],
}
TOKEN_ERRORS = error_responses(400, 401, examples=TOKEN_EXAMPLES)


class TokenObtainView(views.TokenObtainPairView):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a username and password for tokens",
        operation_id="auth_token",
        responses={200: TokenPair, **error_responses(400, 401, 429, examples=TOKEN_EXAMPLES)},
        examples=[
            OpenApiExample("Sign in", request_only=True, value={"username": "demo", "password": "demo-password"})
        ],
    )
    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if isinstance(request.data, dict) else None
        attempt = throttling.SignInAttempt(username, throttling.client_address(request))
        attempt.check()
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            attempt.failed()
            raise
        attempt.succeeded()
        return response


class TokenRefreshView(views.TokenRefreshView):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new access token",
        operation_id="auth_token_refresh",
        responses={200: AccessOnly, **TOKEN_ERRORS},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
