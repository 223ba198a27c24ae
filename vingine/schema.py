"""OpenAPI pieces shared by every app: the error body, documented error responses, bearer auth.

The schema is generated from the views (drf-spectacular, served at /api/schema); what lives here
keeps the description of errors and authentication in one place, as ``errors.py`` keeps their shape.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from . import tags
from .fields import IdField
from .filters import TIME_EXAMPLE
from .pagination import MAX_OFFSET

# JSON Schema patterns are ECMA-262 regexes: "$" instead of Python's "\Z".
ID_SCHEMA_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._:-]{1,200}$"
ID_SCHEMA = {"type": "string", "pattern": ID_SCHEMA_PATTERN, "minLength": 1, "maxLength": 200}
extend_schema_field(ID_SCHEMA)(IdField)
# In a path, a job id is also none of the words /api/cron/jobs/<word> routes elsewhere.
JOB_ID_PATH_SCHEMA = {**ID_SCHEMA, "pattern": r"^(?!(\.{1,2}|all|cron|interval)$)[A-Za-z0-9._:-]{1,200}$"}
PATH_PARAMETERS = {
    "job_id": JOB_ID_PATH_SCHEMA,
    "workflow_id": ID_SCHEMA,
    "run_id": {"type": "string", "format": "uuid"},
}


class Error(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong and what to do about it.")


# Why each status happens; endpoints pick theirs and may add examples with the texts they send.
ERROR_MEANING = {
    400: "Invalid input: the body, a query parameter or the schedule; nothing was changed.",
    401: "Missing, expired or invalid bearer token.",
    403: "The resource belongs to another user, or the action needs an operator (staff).",
    404: "No such resource.",
    409: "Refused because of the current state; nothing was changed.",
    429: (
        "Too many requests: this user's requests per minute, or failed sign-ins for this username or from "
        "this address. Nothing was done; Retry-After says how many seconds to wait."
    ),
    503: "The task queue (Redis) is unreachable; the run was recorded as failed.",
}
UNAUTHENTICATED = OpenApiExample(
    "No token", value={"detail": "Authentication credentials were not provided."}, status_codes=["401"]
)


def error_responses(*statuses: int, examples: dict[int, list[tuple[str, str]]] | None = None) -> dict:
    """``{status: OpenApiResponse(Error)}`` for ``extend_schema(responses=...)``.

    ``examples`` maps a status to (title, detail text) pairs shown in the docs.
    """
    examples = examples or {}
    responses = {}
    for status in statuses:
        shown = [
            OpenApiExample(title, value={"detail": detail}, status_codes=[str(status)])
            for title, detail in examples.get(status, ())
        ]
        if status == 401 and not shown:
            shown = [UNAUTHENTICATED]
        responses[status] = OpenApiResponse(Error, description=ERROR_MEANING[status], examples=shown)
    return responses


def page_parameters(*, default: int, maximum: int) -> list[OpenApiParameter]:
    """``limit`` and ``offset`` as ``vingine.pagination.page_from`` reads them."""
    return [
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": maximum},
            description=f"How many items to return (1-{maximum}); default {default}.",
        ),
        OpenApiParameter(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            description="How many items to skip first; default 0.",
        ),
    ]


def tag_parameter(*, description: str) -> OpenApiParameter:
    """``tag`` as ``vingine.filters.tags_from`` reads it."""
    return OpenApiParameter(
        "tag",
        {"type": "array", "items": tags.TAG_SCHEMA, "maxItems": tags.MAX_TAGS},
        explode=True,
        description=description,
    )


def choices_parameter(name: str, choices: list[str], *, description: str) -> OpenApiParameter:
    """A repeatable parameter as ``vingine.filters.choices_from`` reads it."""
    return OpenApiParameter(
        name, {"type": "array", "items": {"type": "string", "enum": choices}}, explode=True, description=description
    )


def time_range_parameters(*, field: str) -> list[OpenApiParameter]:
    """``since`` and ``until`` as ``vingine.filters.time_range_from`` reads them."""
    schema = {"type": "string", "format": "date-time"}
    return [
        OpenApiParameter(
            "since",
            schema,
            description=f"Only items whose {field} is at or after this ISO 8601 time with its offset "
            f"(e.g. {TIME_EXAMPLE}).",
        ),
        OpenApiParameter(
            "until",
            schema,
            description=f"Only items whose {field} is before this ISO 8601 time with its offset; after since.",
        ),
    ]


def id_parameter(name: str, *, description: str) -> OpenApiParameter:
    """A job or workflow id as ``vingine.filters.id_from`` reads it."""
    return OpenApiParameter(name, ID_SCHEMA, description=description)


class BearerJWT(OpenApiAuthenticationExtension):
    target_class = "vingine.auth.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )
        scheme["description"] = (
            "An access token from POST /api/auth/token, or a token of an identity provider (Supabase: sub = "
            "user id, aud = authenticated): HS256 with the shared JWT_SECRET, or signed with a key of its "
            "JWKS (JWT_JWKS_URL: RS256, ES256, ...)."
        )
        return scheme


def paths_without_optional_slash(endpoints: list) -> list:
    """Every route takes an optional trailing slash (``/?$``); the schema names the form without it."""
    return [(path.rstrip("/") or "/", regex, method, callback) for path, regex, method, callback in endpoints]


THROTTLED_EXAMPLE = {
    "summary": "Too many requests",
    "value": {"detail": "Too many requests from this user. Try again in 12 seconds."},
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    }
}


def throttled_responses(result: dict, generator, request, public) -> dict:
    """Every operation of a signed-in user may be refused by its rate limit (vingine.throttling):
    a 429 with Retry-After, documented here once rather than on each view."""
    for operations in result["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            if any("bearerAuth" in requirement for requirement in operation.get("security", ())):
                responses.setdefault(
                    "429",
                    {
                        "description": ERROR_MEANING[429],
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"},
                                "examples": {"TooManyRequests": THROTTLED_EXAMPLE},
                            }
                        },
                    },
                )
            if "429" in responses:
                responses["429"]["headers"] = RETRY_AFTER
    return result


def path_parameter_schemas(result: dict, generator, request, public) -> dict:
    """The routes match any path segment (``[^/]+``); the schema says which ids can exist."""
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "path" and parameter["name"] in PATH_PARAMETERS:
                    parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
    return result
