"""Signed deliveries (Standard Webhooks, https://www.standardwebhooks.com): every http request a
run sends carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``, so a receiver can
tell our calls from forged ones with any Standard Webhooks library.

Each user has a signing secret (``whsec_`` and base64 of 24 random bytes), made on first use and
kept encrypted (Fernet, with SECRETS_ENCRYPTION_KEY from the environment). After a rotation the
previous secret still signs for SIGNING_SECRET_OVERLAP_HOURS: each request then carries both
signatures, and a receiver holding either secret accepts it while it is being updated.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import SigningSecret

PREFIX = "whsec_"


def _fernet() -> Fernet:
    return Fernet(settings.SECRETS_ENCRYPTION_KEY)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


class SecretUnreadable(RuntimeError):
    """A stored secret that the configured key cannot decrypt."""


def decrypt(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "a signing secret cannot be decrypted: SECRETS_ENCRYPTION_KEY is not the key it was stored with"
        ) from exc


def _new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for (its base64 part, decoded)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(keys: list[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` for each
    key, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys)


@dataclass(frozen=True)
class Shown:
    """A user's signing secret as its owner reads it."""

    secret: str
    created_at: datetime
    previous_expires_at: datetime | None


def _previous_signs(row: SigningSecret, now: datetime) -> bool:
    """Whether the secret before the last rotation still signs (its overlap has not ended)."""
    return bool(row.previous and row.previous_until and row.previous_until > now)


def _shown(row: SigningSecret, now: datetime) -> Shown:
    return Shown(decrypt(row.secret), row.created_at, row.previous_until if _previous_signs(row, now) else None)


def secret_get(*, owner: AbstractBaseUser) -> Shown:
    """The owner's signing secret, made now if they have none yet."""
    return _shown(_get_or_make(owner.pk), timezone.now())


def secret_rotate(*, owner: AbstractBaseUser) -> Shown:
    """A new signing secret; the one it replaces keeps signing for SIGNING_SECRET_OVERLAP_HOURS."""
    now = timezone.now()
    with transaction.atomic():
        _get_or_make(owner.pk)
        row = SigningSecret.objects.select_for_update().get(owner_id=owner.pk)
        row.previous, row.previous_until = row.secret, now + timedelta(hours=settings.SIGNING_SECRET_OVERLAP_HOURS)
        row.secret, row.created_at = encrypt(_new_secret()), now
        row.save()
    return _shown(row, now)


def signing_keys(owner_id: int, current: str | None, previous: str | None) -> list[bytes]:
    """The keys a run of ``owner_id`` signs with, from the encrypted secrets its claim read (the
    previous one only while it overlaps); the secret is made here when the owner has none yet."""
    if current is None:
        current = _get_or_make(owner_id).secret
    keys = [key_of(decrypt(current))]
    if previous:
        keys.append(key_of(decrypt(previous)))
    return keys


def owner_keys(owner_id: int) -> list[bytes]:
    """The keys requests on behalf of ``owner_id`` are signed with now (notifications)."""
    row = _get_or_make(owner_id)
    return signing_keys(owner_id, row.secret, row.previous if _previous_signs(row, timezone.now()) else None)


def _get_or_make(owner_id: int) -> SigningSecret:
    row = SigningSecret.objects.filter(owner_id=owner_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return SigningSecret.objects.create(
                owner_id=owner_id, secret=encrypt(_new_secret()), created_at=timezone.now()
            )
    except IntegrityError:  # made meanwhile by another request or run: that one stands
        return SigningSecret.objects.get(owner_id=owner_id)
