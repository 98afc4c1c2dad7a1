"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) whose answers a test
scripts per recipient, and which records what it accepted.

`rcpt` answers RCPT TO (None accepts), `data` answers DATA for an envelope (None
accepts it, DROP closes the connection without an answer); both may be swapped while
the server runs."""

import email
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

DROP = "drop"

RcptAnswer = Callable[[str], str | None]
DataAnswer = Callable[[Any], str | None]


@dataclass
class SmtpServer:
    host: str
    port: int
    rcpt: RcptAnswer = lambda address: None
    data: DataAnswer = lambda envelope: None
    delivered: list[Any] = field(default_factory=list)  # accepted envelopes
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?tls=false"

    def mailer(self) -> dict[str, Any]:
        """A MAILERS entry sending to this server."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": self.host, "port": self.port, "timeout": 5},
        }

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [parsed(envelope) for envelope in self.delivered]

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for envelope in self.delivered for rcpt in envelope.rcpt_tos]


def parsed(envelope: Any) -> EmailMessage:
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.server.lock:
            self.server.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.server.rcpt(address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = self.server.data(envelope)
        if answer == DROP:
            server.transport.close()
            return "250 never seen"
        if answer is not None:
            return answer
        with self.server.lock:
            self.server.delivered.append(envelope)
        return "250 2.0.0 Queued"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(_Handler(server), hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
