"""Typed readers for environment settings.

Every setting comes from the environment (12-factor). A malformed value stops the process at
start with a message that names the variable, instead of surfacing later as a confusing error.
"""

import base64
import binascii
import hashlib
import ipaddress
import os
import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}\Z){_LABEL}(\.{_LABEL})*\Z")  # lower-case, as DNS names compare
_ENTRY = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>\d{1,5}))?\Z")


def env_hosts(name: str) -> list[str]:
    """A comma-separated list of ``host`` or ``host:port`` entries, normalised.

    Host names are lower-cased without a trailing dot; IPv6 addresses are written in brackets
    (``[::1]`` or ``[::1]:8080``); a bare IPv6 address without a port is accepted too.
    """
    entries = []
    for raw in env_list(name, []):
        entry = raw.lower().rstrip(".")
        try:
            entries.append(f"[{ipaddress.IPv6Address(entry)}]")  # a bare IPv6 address
            continue
        except ValueError:
            pass
        match = _ENTRY.match(entry)
        port = match and match["port"]
        if not match or (port and not 1 <= int(port) <= 65535):
            raise ImproperlyConfigured(f"{name}: {raw!r} is not a host or host:port")
        if match["v6"]:
            try:
                host = f"[{ipaddress.IPv6Address(match['v6'])}]"
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {raw!r} is not a valid IPv6 address in brackets") from None
        else:
            host = match["host"].rstrip(".")
            if not HOSTNAME.match(host):
                raise ImproperlyConfigured(f"{name}: {raw!r} is not a host name or IP address")
        entries.append(f"{host}:{int(port)}" if port else host)
    return entries


def secret_key(name: str, local_file: Path) -> str:
    """``name`` from the environment; else a random key kept in ``local_file`` for this checkout.

    There is no built-in default on purpose: a published default would let anyone sign tokens.
    Every process of one checkout (web, worker, beat, manage.py) reads the same file.
    """
    value = os.environ.get(name)
    if value:
        return value
    try:
        if not local_file.exists():
            fd = os.open(local_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
        return local_file.read_text().strip()
    except FileExistsError:
        return local_file.read_text().strip()  # another process created it first
    except OSError as exc:
        raise ImproperlyConfigured(f"{name} is not set and {local_file} could not be created ({exc}); set {name}")


def fernet_key(name: str, derive_from: str) -> str:
    """``name`` from the environment, checked to be a Fernet key; else one derived from ``derive_from``
    (a secret itself), so every process of a deployment agrees on it without another setting."""
    value = os.environ.get(name)
    if not value:
        return base64.urlsafe_b64encode(hashlib.sha256(f"vingine secrets:{derive_from}".encode()).digest()).decode()
    try:
        if len(base64.urlsafe_b64decode(value.encode())) == 32:
            return value
    except (ValueError, binascii.Error):
        pass
    raise ImproperlyConfigured(
        f"{name} must be 32 bytes in url-safe base64 (python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())')"
    )
