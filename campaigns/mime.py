"""The ledger's emails written as MIME directly.

Django's `EmailMessage.message()` builds a `email.message.EmailMessage` under the
modern policy, whose header registry parses and refolds every header: about 1.5 ms a
message, more than everything else a send does together. `LedgerEmailMessage` is an
`EmailMultiAlternatives` (any Django mail backend sends it) whose `message()` writes
the same MIME in a few tens of microseconds for what the ledger sends: a text part,
optionally an HTML alternative, ASCII addresses, and headers without line breaks.
Anything else (a non-ASCII address, an attachment, a header holding a line break,
which Django refuses) goes through Django's own `message()` unchanged.

What is written: RFC 5322 headers (`Subject` and display names as RFC 2047 UTF-8
encoded words when they are not ASCII), `MIME-Version`, parts in UTF-8, 7bit when the
text is ASCII with short lines, else base64; line breaks per the backend's policy
(CRLF for SMTP)."""

from __future__ import annotations

import base64
import binascii
import email.policy
import functools
import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from django.core.mail import EmailMultiAlternatives

_WORD_BYTES = 45  # UTF-8 bytes per encoded word: 60 base64 characters, under 75
_MAX_LINE = 998
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class WrittenMessage:
    """The MIME form of one email, as much of `email.message.Message` as Django's
    mail backends use (`as_bytes`, `as_string`, `get_charset`)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        return self.data

    def __bytes__(self) -> bytes:
        return self.data

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy: Any = None) -> str:
        return self.data.decode("ascii")

    def get_charset(self) -> None:
        return None


def encoded_words(text: str, linesep: str) -> str:
    """`text` as it may stand in a header: itself when it is ASCII, else RFC 2047 'B'
    encoded words of at most _WORD_BYTES each, cut between characters, folded."""
    if text.isascii():
        return text
    words: list[bytes] = []
    chunk = bytearray()
    for char in text:
        encoded = char.encode("utf-8", "surrogatepass")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(bytes(chunk))
            chunk.clear()
        chunk += encoded
    words.append(bytes(chunk))
    return f"{linesep} ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@functools.lru_cache(maxsize=64)
def _sender(value: str, linesep: str) -> str | None:
    return _address(value, linesep)


def _address(value: str, linesep: str) -> str | None:
    if _PLAIN_ADDRESS.fullmatch(value):
        return value
    name, address = parseaddr(value)
    if not address or not address.isascii() or "@" not in address:
        return None
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{encoded_words(name, linesep)} <{address}>"


def _part(content: str, subtype: str, linesep: str) -> tuple[list[str], bytes]:
    """(the part's content headers, its encoded body)."""
    lines = _LINE_BREAK.split(content)
    if content.isascii() and all(len(line) <= _MAX_LINE for line in lines):
        return (
            [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
            linesep.join(lines).encode("ascii"),
        )
    canonical = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    body = binascii.b2a_base64(canonical, newline=False)
    wrapped = linesep.encode().join(body[i : i + 76] for i in range(0, len(body), 76))
    return (
        [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: base64"],
        wrapped,
    )


def _has_break(value: str) -> bool:
    return "\n" in value or "\r" in value


class LedgerEmailMessage(EmailMultiAlternatives):
    def message(self, *, policy: Any = email.policy.default) -> Any:
        written = self._written(policy.linesep)
        return written if written is not None else super().message(policy=policy)

    def _written(self, linesep: str) -> WrittenMessage | None:
        if self.attachments or self.cc or self.bcc or self.reply_to or len(self.to) != 1:
            return None
        html = [content for content, mimetype in self.alternatives if mimetype == "text/html"]
        if len(html) != len(self.alternatives) or len(html) > 1:
            return None
        extra = {name.lower(): (name, str(value)) for name, value in self.extra_headers.items()}
        values = [self.subject, self.from_email, self.to[0], *(v for _, v in extra.values())]
        if any(_has_break(str(value)) for value in values):
            return None  # Django refuses these: let it say so
        sender = _sender(str(extra.pop("from", ("", self.from_email))[1]), linesep)
        recipient = _address(str(self.to[0]), linesep)
        if sender is None or recipient is None:
            return None
        if any(not value.isascii() for _, value in extra.values()):
            return None
        headers = [
            f"Subject: {encoded_words(str(self.subject), linesep)}",
            f"From: {sender}",
            f"To: {recipient}",
        ]
        if "date" not in extra:
            headers.append(f"Date: {format_datetime(datetime.now(UTC))}")
        if "message-id" not in extra:
            return None  # the ledger always gives one; anything else goes Django's way
        headers.extend(f"{name}: {value}" for name, value in extra.values())
        headers.append("MIME-Version: 1.0")
        text_headers, text_body = _part(str(self.body), "plain", linesep)
        sep = linesep.encode()
        if not html:
            head = linesep.join([*headers, *text_headers]).encode("ascii")
            return WrittenMessage(head + sep + sep + text_body + sep)
        boundary = f"=============={uuid.uuid4().hex}=="
        html_headers, html_body = _part(str(html[0]), "html", linesep)
        head = linesep.join(
            [*headers, f'Content-Type: multipart/alternative; boundary="{boundary}"']
        ).encode("ascii")
        delimiter = f"--{boundary}".encode()
        parts = [
            head,
            b"",
            delimiter,
            linesep.join(text_headers).encode("ascii"),
            b"",
            text_body,
            delimiter,
            linesep.join(html_headers).encode("ascii"),
            b"",
            html_body,
            f"--{boundary}--".encode(),
            b"",
        ]
        return WrittenMessage(sep.join(parts))
