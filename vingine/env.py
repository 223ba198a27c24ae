"""Typed readers for environment settings.

Every setting comes from the environment (12-factor). A malformed value stops the process at
start with a message that names the variable, instead of surfacing later as a confusing error.
"""

import os
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
