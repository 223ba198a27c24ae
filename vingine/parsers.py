from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus: NaN/Infinity, absurd nesting and a charset that decodes no text are a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except LookupError:
            # Django only checks that the charset names a codec; "hex" or "rot13" name one that
            # does not turn bytes into text.
            raise ParseError(f"charset {encoding!r} is not a text encoding; send UTF-8") from None
        except UnicodeDecodeError as exc:
            raise ParseError(str(exc)) from None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        except RecursionError:
            raise ParseError("nested too deeply") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
