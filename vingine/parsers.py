from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus: NaN/Infinity and absurd nesting are a 400 rather than a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            return json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(str(exc)) from None
        except RecursionError:
            raise ParseError("nested too deeply") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
