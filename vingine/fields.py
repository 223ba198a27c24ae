"""Strict request fields: a wrong JSON type is refused, never silently coerced (``123`` is not a job id)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import tags

# Job and workflow ids. "." and ".." are refused: URLs collapse them, so such an id could never be
# reached again.
ID_PATTERN = r"^(?!\.{1,2}\Z)[A-Za-z0-9._:-]{1,200}\Z"


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "must be an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(serializers.RegexField):
    """Job and workflow ids: 1-200 of ``A-Z a-z 0-9 . _ : -``, safe in a URL path segment."""

    default_error_messages = {
        "invalid": "must be 1-200 characters of letters, digits, '.', '_', ':' or '-' (and not '.' or '..').",
    }

    def __init__(self, **kwargs):
        # No trimming: "abc\n" is refused rather than quietly saved as another id.
        super().__init__(ID_PATTERN, max_length=None, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "array",
        "items": tags.TAG_SCHEMA,
        "maxItems": tags.MAX_TAGS,
        "description": f"At most {tags.MAX_TAGS} tags, each {tags.TAG_RULE}; duplicates are dropped.",
    }
)
class TagsField(serializers.Field):
    """A list of tags (``vingine.tags.clean_tags``); omitted, none."""

    default_error_messages = {"null": 'must be a list of strings, like ["video", "team:growth"]'}

    def __init__(self, **kwargs):
        super().__init__(required=False, default=list, **kwargs)

    def to_internal_value(self, data):
        try:
            return tags.clean_tags(data)
        except tags.Invalid as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return list(value)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": f"Any JSON object of at most {tags.METADATA_MAX_BYTES} bytes as JSON, nested at most "
        f"{tags.METADATA_MAX_DEPTH} levels deep; kept and shown as given.",
    }
)
class MetadataField(serializers.Field):
    """A small JSON object (``vingine.tags.clean_metadata``); omitted, empty."""

    default_error_messages = {"null": 'must be a JSON object, like {{"team": "growth"}}'}  # str.format()ed

    def __init__(self, **kwargs):
        super().__init__(required=False, default=dict, **kwargs)

    def to_internal_value(self, data):
        try:
            return tags.clean_metadata(data)
        except tags.Invalid as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value
