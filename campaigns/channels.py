"""The channels: how one rendered message leaves the product, and what came of it. Pure
delivery: no database, no retries (the ledger decides what an Outcome means for its
rows and when to try again, campaigns.backoff).

- Email goes through Django's mail backend (`MAILERS`; SMTP in production, the file or
  console backend by default), one connection for a whole chunk. Each email carries a
  `Message-ID` made from the message's id (the same on every try) and, with an
  unsubscribe URL, `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=
  One-Click` (RFC 8058). SMTP 4xx answers and connection failures are transient; 5xx
  answers are permanent, with the server's reply as the error.
- SMS goes through `SMS_PROVIDER`: `log` logs it and counts it sent; `http` POSTs
  `{"to", "body", "message_id"}` to `SMS_HTTP_URL` with `Authorization: Bearer
  <SMS_HTTP_TOKEN>` and `Idempotency-Key: <message id>` (the same key on every try, so
  a provider drops a resend after a crash between its acceptance and our commit), over
  one keep-alive `httpx.Client` per worker process. 2xx is sent; 408, 429, 5xx, timeouts
  and transport errors are transient (with the `Retry-After` the provider gave); other
  4xx are permanent, with the provider's reason."""

import functools
import logging
import os
import smtplib
import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, Literal, Protocol

import httpx
from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME

from campaigns.mime import LedgerEmailMessage

logger = logging.getLogger("campaigns.channels")

SENT: Literal["sent"] = "sent"
TRANSIENT: Literal["transient"] = "transient"
PERMANENT: Literal["permanent"] = "permanent"

MAX_ERROR = 500  # characters of a provider's reason kept in an Outcome
SMS_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Outcome:
    """What came of one message: `sent`; `transient` (try again, not before
    `retry_after` seconds when the provider said so); `permanent` (the message fails).
    `error` is the reason in words (the server's or provider's reply when there is
    one); `provider_id` the provider's own id for the message, when it gave one."""

    status: Literal["sent", "transient", "permanent"]
    error: str = ""
    retry_after: float | None = None
    provider_id: str | None = None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


# --- Email ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    """One rendered email. `body` is the plain-text part; `html_body`, when given, is
    sent as its HTML alternative."""

    message_id: str
    to: str
    subject: str
    body: str
    html_body: str | None = None
    unsubscribe_url: str | None = None
    from_email: str | None = None


def message_id_header(message_id: str, from_email: str) -> str:
    """The stable `Message-ID` of a message: its id at the sender's domain."""
    return f"<{message_id}@{_sender_domain(from_email)}>"


@functools.lru_cache(maxsize=64)
def _sender_domain(from_email: str) -> str:
    return parseaddr(from_email)[1].rpartition("@")[2] or DNS_NAME.get_fqdn()


class EmailChannel:
    """Sends chunks of emails through the mailer `mailer` of `MAILERS`."""

    def __init__(self, *, mailer: str = "default", from_email: str | None = None) -> None:
        self.mailer = mailer
        self.from_email = from_email

    def build(self, email: Email) -> LedgerEmailMessage:
        from_email = email.from_email or self.from_email or settings.DEFAULT_FROM_EMAIL
        headers = {"Message-ID": message_id_header(email.message_id, from_email)}
        if email.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = LedgerEmailMessage(
            # A rendered subject may hold a customer's newline: headers are one line.
            subject=" ".join(email.subject.split()),
            body=email.body,
            from_email=from_email,
            to=[email.to],
            headers=headers,
        )
        if email.html_body is not None:
            message.attach_alternative(email.html_body, "text/html")
        return message

    def send_chunk(self, emails: Sequence[Email]) -> list[Outcome]:
        """One Outcome per email, in order, over one connection. A connection that
        drops is opened again for the next email; one that cannot be opened makes the
        rest of the chunk transient without trying each."""
        if not emails:
            return []
        connection = mailers[self.mailer]
        outcomes: list[Outcome] = []
        unreachable: Outcome | None = None
        try:
            for email in emails:
                if unreachable is None:
                    unreachable = _open(connection)
                if unreachable is not None:
                    outcomes.append(unreachable)
                    continue
                outcome, connection_lost = self._send(connection, email)
                outcomes.append(outcome)
                if connection_lost:
                    _close(connection)
        finally:
            _close(connection)
        return outcomes

    def _send(self, connection: BaseEmailBackend, email: Email) -> tuple[Outcome, bool]:
        """(the outcome, whether the connection is lost)."""
        try:
            message = self.build(email)
            connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            return _smtp_outcome(code, reply), False
        except smtplib.SMTPServerDisconnected as exc:
            return Outcome(TRANSIENT, _short(f"connection lost: {exc}")), True
        except smtplib.SMTPResponseException as exc:
            return _smtp_outcome(exc.smtp_code, exc.smtp_error), exc.smtp_code in (421, -1)
        except smtplib.SMTPException as exc:
            return Outcome(TRANSIENT, _short(f"SMTP error: {exc}")), True
        except OSError as exc:  # refused, reset, timed out
            return Outcome(TRANSIENT, _short(f"connection error: {exc}")), True
        except ValueError as exc:  # an address or header Django refuses to send
            return Outcome(PERMANENT, _short(str(exc))), False
        return Outcome(SENT), False


def _smtp_outcome(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    error = _short(f"{code} {text}")
    if 500 <= code < 600:
        return Outcome(PERMANENT, error)
    return Outcome(TRANSIENT, error)


def _open(connection: BaseEmailBackend) -> Outcome | None:
    """None once the connection is open, else the transient outcome of the failure."""
    try:
        connection.open()
    except smtplib.SMTPResponseException as exc:  # a 421 greeting, a refused login
        refused = _smtp_outcome(exc.smtp_code, exc.smtp_error)
        return Outcome(TRANSIENT, _short(f"could not connect: {refused.error}"))
    except OSError as exc:
        return Outcome(TRANSIENT, _short(f"could not connect: {exc}"))
    return None


def _close(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except OSError as exc:  # the server is gone already: nothing left to close
        logger.debug("closing the mail connection: %s", exc)


def email_channel() -> EmailChannel:
    return EmailChannel()


# --- SMS -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sms:
    message_id: str
    to: str  # E.164
    body: str


class SmsChannel(Protocol):
    def send_chunk(self, messages: Sequence[Sms]) -> list[Outcome]: ...


class LogSmsChannel:
    """The default provider: each SMS is logged and counts as sent."""

    def send_chunk(self, messages: Sequence[Sms]) -> list[Outcome]:
        for sms in messages:
            logger.info("SMS %s to %s: %s", sms.message_id, sms.to, sms.body)
        return [Outcome(SENT) for _ in messages]


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_http_client() -> httpx.Client:
    """This process's keep-alive client (a forked worker makes its own: a connection
    pool must not be shared across a fork)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                _clients.clear()
                client = _clients[pid] = httpx.Client(timeout=SMS_TIMEOUT)
    return client


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """A `Retry-After` header in seconds (it is a number of seconds or an HTTP date);
    None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _provider_reason(response: httpx.Response) -> str:
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "reason"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
    return response.text or response.reason_phrase


def _provider_id(response: httpx.Response) -> str | None:
    try:
        data: Any = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "message_id", "sid"):
            value = data.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)[:200]
    return None


def http_outcome(response: httpx.Response) -> Outcome:
    """What a provider's answer means for the message."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(SENT, provider_id=_provider_id(response))
    error = _short(f"HTTP {status}: {_provider_reason(response)}")
    if status in (408, 429) or status >= 500 or status < 400:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Outcome(TRANSIENT, error, retry_after=retry_after)
    return Outcome(PERMANENT, error)


# Below this round trip, requests go one after another: threads only add contention
# (the GIL, the pool's bookkeeping) when the provider answers at once.
SERIAL_BELOW = 0.005


class HttpSmsChannel:
    """The `http` provider. A chunk's first PROBE requests go one after another and
    time the provider: if it answers within SERIAL_BELOW (median), the rest follow one
    after another too, which is fastest then; if not, up to `concurrency` requests are
    in flight at once (the client is thread-safe and keeps its connections alive)."""

    PROBE = 3

    def __init__(
        self,
        *,
        url: str,
        token: str,
        client: httpx.Client | None = None,
        concurrency: int = 1,
    ) -> None:
        self.url = url
        self.token = token
        self.client = client
        self.concurrency = max(1, concurrency)

    def send(self, sms: Sms) -> Outcome:
        client = self.client or shared_http_client()
        try:
            response = client.post(
                self.url,
                json={"to": sms.to, "body": sms.body, "message_id": sms.message_id},
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Idempotency-Key": sms.message_id,
                },
            )
        except httpx.TimeoutException as exc:
            return Outcome(TRANSIENT, _short(f"timeout: {exc or type(exc).__name__}"))
        except httpx.TransportError as exc:
            return Outcome(TRANSIENT, _short(f"connection error: {exc or type(exc).__name__}"))
        return http_outcome(response)

    def send_chunk(self, messages: Sequence[Sms]) -> list[Outcome]:
        if self.concurrency == 1 or len(messages) < 2:
            return [self.send(sms) for sms in messages]
        outcomes: list[Outcome] = []
        round_trips: list[float] = []
        for sms in messages[: self.PROBE]:
            started = time.monotonic()
            outcomes.append(self.send(sms))
            round_trips.append(time.monotonic() - started)
        rest = messages[len(outcomes) :]
        if round_trips and statistics.median(round_trips) < SERIAL_BELOW:
            outcomes.extend(self.send(sms) for sms in rest)
        elif rest:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(rest))) as pool:
                outcomes.extend(pool.map(self.send, rest))
        return outcomes


def sms_channel() -> SmsChannel:
    """The channel `SMS_PROVIDER` names."""
    if settings.SMS_PROVIDER == "http":
        return HttpSmsChannel(
            url=settings.SMS_HTTP_URL,
            token=settings.SMS_HTTP_TOKEN,
            concurrency=settings.SMS_HTTP_CONCURRENCY,
        )
    return LogSmsChannel()
