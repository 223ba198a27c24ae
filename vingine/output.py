"""How a success answer is rendered: by the output serializer that also documents it in the OpenAPI
schema, so the schema cannot drift from the wire. Views call ``success(OutputSerializer, **fields)``.

The fields below render exactly what clients of the original API read: times as Python's
``isoformat()`` (``+00:00``, never ``Z``), in the zone the object names where it has one.
"""

import functools
import zoneinfo
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response


class SuccessField(serializers.ChoiceField):
    """``"status": "success"``, on every success answer."""

    def __init__(self) -> None:
        super().__init__(choices=["success"], source="*")

    def to_representation(self, value: Any) -> str:
        return "success"


@extend_schema_field(OpenApiTypes.DATETIME)
class TimeField(serializers.Field):
    """An aware datetime as ``isoformat()``, in its own zone (UTC as the database returns it)."""

    def to_representation(self, value) -> str:
        return value.isoformat()


class ZonedTimeField(TimeField):
    """An aware datetime shown in the zone named by the object's ``timezone`` attribute."""

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        return None if value is None else value.astimezone(zoneinfo.ZoneInfo(instance.timezone))


class _BlankAsNull:
    """A text column kept as "" when empty, shown as null."""

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value) -> str | None:
        return super().to_representation(value) if value else None


class BlankAsNullCharField(_BlankAsNull, serializers.CharField):
    pass


class BlankAsNullChoiceField(_BlankAsNull, serializers.ChoiceField):
    pass


@functools.cache
def _renderer(output: type[serializers.Serializer]) -> serializers.Serializer:
    # A serializer instance deep-copies its declared fields (and its nested serializers' fields)
    # to bind them to itself: per answer, that cost more than rendering it. Rendering reads the
    # bound fields and keeps no state, so one instance per class serves every request and thread.
    return output()


def success(output: type[serializers.Serializer], **fields: Any) -> Response:
    """A 200 answer rendered by ``output`` from ``fields`` (its ``status`` is always "success")."""
    return Response(_renderer(output).to_representation(fields))
