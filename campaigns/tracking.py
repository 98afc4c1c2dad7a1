"""Public tokens: click, open and unsubscribe links bound to one message, and the
feedback form's link bound to one feedback request.

A token is base64url(message id (16 bytes) [+ link index (2 bytes)] + MAC), the MAC
being the first 16 bytes of HMAC-SHA256 keyed from SECRET_KEY and separated by kind,
so a token is unguessable, names one message (and one of its links), and a token of
one kind is never valid as another. Verification is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from functools import cache

from django.conf import settings

KINDS = ("click", "open", "unsubscribe", "feedback")
_MAC_BYTES = 16
MAX_LINKS = 65_535


@cache
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"crm.campaigns.tracking:" + secret.encode()).digest()


def _mac(kind: str, payload: bytes) -> bytes:
    key = _key(settings.SECRET_KEY)
    return hmac.new(key, kind.encode() + b":" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_token(kind: str, message_id: uuid.UUID, index: int | None = None) -> str:
    payload = message_id.bytes
    if kind == "click":
        if index is None or not 0 <= index <= MAX_LINKS:
            raise ValueError("A click token names one link of the message.")
        payload += index.to_bytes(2, "big")
    return _encode(payload + _mac(kind, payload))


def read_token(kind: str, token: str) -> tuple[uuid.UUID, int | None] | None:
    """(message id, link index or None) of a valid token of `kind`; None otherwise."""
    size = 16 + (2 if kind == "click" else 0)
    if not token or len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != size + _MAC_BYTES:
        return None
    payload, mac = raw[:size], raw[size:]
    if not hmac.compare_digest(mac, _mac(kind, payload)):
        return None
    index = int.from_bytes(payload[16:], "big") if kind == "click" else None
    return uuid.UUID(bytes=payload[:16]), index


def click_url(message_id: uuid.UUID, index: int) -> str:
    return f"{settings.PUBLIC_URL}/t/c/{make_token('click', message_id, index)}"


def open_url(message_id: uuid.UUID) -> str:
    return f"{settings.PUBLIC_URL}/t/o/{make_token('open', message_id)}"


def unsubscribe_url(message_id: uuid.UUID) -> str:
    return f"{settings.PUBLIC_URL}/u/{make_token('unsubscribe', message_id)}"


def feedback_url(feedback_id: uuid.UUID) -> str:
    """The public feedback form of one request (a token of its own kind: a message's
    tokens never open it)."""
    return f"{settings.PUBLIC_URL}/f/{make_token('feedback', feedback_id)}"
