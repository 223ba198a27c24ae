"""Strict request fields: a wrong JSON type is refused, never silently coerced (``123`` is not a job id)."""

from rest_framework import serializers

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
