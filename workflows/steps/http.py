"""The ``http`` step: calls a webhook, typically a route of the user's own Next.js app.

Every connection goes through ``vingine.outbound`` (the destination check, pinned to the checked
address). Redirects are followed here, one hop at a time, so each hop goes through the same check,
and credentials meant for one origin are not handed to another.
"""

import ipaddress
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from vingine import outbound
from vingine.env import HOSTNAME

from .. import signing
from ..redaction import REDACTED, is_secret, redact_url
from .base import StepContext, StepFailed, StepMayRetry
from .placeholders import placeholder_problem, substitute

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_METHOD = "POST"
DEFAULT_TIMEOUT = 30  # seconds
MAX_TIMEOUT = 300
MAX_URL_LENGTH = 2048
MAX_HEADERS = 50
MAX_HEADER_VALUE = 8 * 1024
MAX_BODY_DEFINITION_BYTES = 64 * 1024  # the body as written in the workflow
MAX_REQUEST_BYTES = 1024 * 1024  # the body once {{input}} and {{previous}} are filled in
MAX_RESPONSE_BYTES = 64 * 1024  # kept of a response body; the rest is not read
MAX_REDIRECTS = 5
MAX_ERROR_BODY = 300  # characters of a failed response quoted in the step's error
HEADER_NAME = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Set by the HTTP client from the request itself; a step setting them would break the request.
CLIENT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# --- validation ------------------------------------------------------------------------------


def validate(step: dict) -> str | None:
    method = step.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or method.upper() not in METHODS:
        return f"'method' must be one of {', '.join(METHODS)}, got {method!r}"
    problem = _url_problem(step.get("url")) or _headers_problem(step.get("headers", {}))
    if problem:
        return problem
    if "body" in step:
        if method.upper() in ("GET", "HEAD"):
            return f"a {method.upper()} request has no body; use POST, PUT or PATCH to send one"
        problem = _body_problem(step["body"])
        if problem:
            return problem
    timeout = step.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        return f"'timeout' must be a number of seconds above 0 and at most {MAX_TIMEOUT}, got {timeout!r}"
    return None


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return "'url' must be an http:// or https:// URL"
    if len(url) > MAX_URL_LENGTH:
        return f"'url' is longer than {MAX_URL_LENGTH} characters"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"'url' is not a valid URL ({exc})"
    if parsed.scheme not in ("http", "https"):
        return f"'url' must start with http:// or https://, got {url!r}"
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    if not host:
        return f"'url' has no host: {url!r}"
    if not HOSTNAME.match(host) and not _is_ip(host):
        return f"'url' host {parsed.host!r} is not a valid host name"
    if parsed.userinfo:
        return "'url' must not carry a user name or password; send credentials in an Authorization header"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _headers_problem(headers: Any) -> str | None:
    if not isinstance(headers, dict):
        return "'headers' must be an object of header names to string values"
    if len(headers) > MAX_HEADERS:
        return f"at most {MAX_HEADERS} headers, got {len(headers)}"
    for name, value in headers.items():
        if not name or any(c not in HEADER_NAME for c in name):
            return f"{name!r} is not a valid header name"
        if name.lower() in CLIENT_HEADERS:
            return f"header {name!r} is set by the HTTP client; remove it"
        if not isinstance(value, str):
            return f"header {name!r} must have a string value"
        if any(c in value for c in "\r\n\x00"):
            return f"header {name!r} contains a line break"
        if len(value) > MAX_HEADER_VALUE:
            return f"header {name!r} is longer than {MAX_HEADER_VALUE} characters"
        if value == REDACTED:
            return f"header {name!r} is {REDACTED!r} and there is no stored value to keep; send its real value"
    return None


def _body_problem(body: Any) -> str | None:
    if len(json.dumps(body).encode()) > MAX_BODY_DEFINITION_BYTES:
        return f"'body' is larger than {MAX_BODY_DEFINITION_BYTES} bytes"
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            problem = placeholder_problem(value, "body")
            if problem:
                return problem
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


# --- running ---------------------------------------------------------------------------------


def _fill(value: Any, previous: Any, input_text: str) -> Any:
    if isinstance(value, str):
        return substitute(value, previous=previous, input_text=input_text)
    if isinstance(value, list):
        return [_fill(item, previous, input_text) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, previous, input_text) for key, item in value.items()}
    return value


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _read_body(response: httpx.Response, deadline: float, timeout: float) -> tuple[Any, bool]:
    """The response body (parsed when it is JSON), at most MAX_RESPONSE_BYTES of it, and whether it was cut."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise StepMayRetry(f"the response took longer than {timeout:.3g} s")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            break  # the rest is never read: a huge response costs us no more than this
    truncated = size > MAX_RESPONSE_BYTES
    text = b"".join(chunks)[:MAX_RESPONSE_BYTES].decode(response.encoding or "utf-8", errors="replace")
    if not truncated and "json" in response.headers.get("content-type", "").lower():
        try:
            return json.loads(text), False
        except ValueError:
            pass  # says JSON, is not: kept as the text it is
    return text, truncated


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def may_wait(step: dict) -> bool:
    return True


def run(step: dict, previous: Any, input_text: str, context: StepContext) -> dict:
    """Send the request; the output is ``{"status_code", "body"}`` (plus ``body_truncated``)."""
    # The step's timeout, or less when the run's time limit comes first.
    timeout = min(step.get("timeout", DEFAULT_TIMEOUT), context.time_left())
    deadline = time.monotonic() + timeout
    headers = httpx.Headers(step.get("headers", {}))
    # Which run and slot this request belongs to, so the receiver can tell a retry or a second
    # delivery from a new slot. Headers the step sets itself win.
    for name, value in context.run_headers.items():
        headers.setdefault(name, value)
    content = None
    if "body" in step:
        content = json.dumps(_fill(step["body"], previous, input_text)).encode()
        if len(content) > MAX_REQUEST_BYTES:
            raise StepFailed(f"the request body would be {len(content)} bytes; at most {MAX_REQUEST_BYTES}")
        headers.setdefault("Content-Type", "application/json")
    method = step.get("method", DEFAULT_METHOD).upper()
    if context.webhook_id and context.signing_keys:
        # Standard Webhooks: ours, whatever headers of these names the step sets.
        timestamp = int(time.time())
        headers["webhook-id"] = context.webhook_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = signing.sign(context.signing_keys, context.webhook_id, timestamp, content or b"")
    with outbound.client() as client:
        request = client.build_request(method, step["url"], headers=headers, content=content)
        context.attempt["url"] = shown_url = redact_url(str(request.url))
        for _hop in range(MAX_REDIRECTS + 1):
            request.extensions["timeout"] = httpx.Timeout(max(deadline - time.monotonic(), 0.001)).as_dict()
            try:
                response = client.send(request, stream=True)
                try:
                    redirect = response.next_request
                    if redirect is None:
                        body, truncated = _read_body(response, deadline, timeout)
                        break
                finally:
                    response.close()
            except outbound.DestinationRefused as exc:
                raise StepFailed(str(exc)) from None
            except httpx.TimeoutException:
                raise StepMayRetry(f"no response within {timeout:.3g} s from {shown_url}") from None
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
                raise StepFailed(f"the request could not be sent: {exc}") from None
            except httpx.TransportError as exc:
                raise StepMayRetry(f"network error: {exc or type(exc).__name__}") from None
            except httpx.HTTPError as exc:
                raise StepFailed(f"{type(exc).__name__}: {exc}") from None
            if redirect.url.scheme not in ("http", "https"):
                raise StepFailed(f"redirected to a {redirect.url.scheme}: URL; only http and https are followed")
            if not _same_origin(request.url, redirect.url):
                # Credentials meant for one host are not handed to the host it redirects to.
                for name in [name for name in redirect.headers if is_secret(name)]:
                    del redirect.headers[name]
            request = redirect
            shown_url = redact_url(str(request.url))
            context.attempt.setdefault("redirects", []).append(shown_url)
        else:
            raise StepFailed(f"more than {MAX_REDIRECTS} redirects")

    status = response.status_code
    context.attempt["status_code"] = status
    if not 200 <= status < 300:
        quoted = body if isinstance(body, str) else json.dumps(body)
        message = f"HTTP {status} from {shown_url}" + (f": {quoted[:MAX_ERROR_BODY]}" if quoted else "")
        if status == 429 or status >= 500:
            raise StepMayRetry(message, retry_after=_retry_after(response.headers.get("retry-after")))
        raise StepFailed(message)
    output = {"status_code": status, "body": body}
    if truncated:
        output["body_truncated"] = True
    return output
