"""The email channel against a real SMTP server (aiosmtpd on 127.0.0.1): one connection
per chunk, stable Message-IDs, RFC 8058 headers, 4xx transient, 5xx permanent with the
server's reply, a connection dropped mid-chunk."""

import email
import socket
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

from campaigns.channels import PERMANENT, SENT, TRANSIENT, Email, EmailChannel

SMTP_MAILER = "campaigns_test_smtp"


class Handler:
    """Accepts mail; some recipients get scripted answers."""

    def __init__(self):
        self.delivered = []
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy@"):
            return "451 4.3.2 Mailbox busy, try again later"
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.startswith("drop@") for rcpt in envelope.rcpt_tos):
            server.transport.close()
            return "250 never seen"
        if any(rcpt.startswith("spam@") for rcpt in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam"
        with self.lock:
            self.delivered.append(envelope)
        return "250 2.0.0 Queued"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        **settings.MAILERS,
        SMTP_MAILER: {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        },
    }
    try:
        yield handler
    finally:
        controller.stop()


def make(number, to=None, **kwargs):
    return Email(
        message_id=f"0190a000-0000-7000-8000-{number:012d}",
        to=to or f"customer{number}@example.com",
        subject=kwargs.pop("subject", f"Hello {number}"),
        body=kwargs.pop("body", f"Plain body {number}"),
        unsubscribe_url=kwargs.pop("unsubscribe_url", f"https://crm.example/u/token{number}"),
        from_email=kwargs.pop("from_email", "Shop <news@shop.example>"),
        **kwargs,
    )


def parsed(envelope):
    return email.message_from_bytes(envelope.original_content, policy=policy.default)


def test_a_chunk_goes_out_over_one_connection(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk([make(1), make(2), make(3)])

    assert [o.status for o in outcomes] == [SENT, SENT, SENT]
    assert smtp.connections == 1
    assert [e.rcpt_tos for e in smtp.delivered] == [
        ["customer1@example.com"],
        ["customer2@example.com"],
        ["customer3@example.com"],
    ]


def test_each_email_carries_a_stable_message_id_and_one_click_unsubscribe_headers(smtp):
    channel = EmailChannel(mailer=SMTP_MAILER)

    channel.send_chunk([make(7)])
    channel.send_chunk([make(7)])  # a retry of the same message

    first, second = (parsed(e) for e in smtp.delivered)
    assert first["Message-ID"] == "<0190a000-0000-7000-8000-000000000007@shop.example>"
    assert second["Message-ID"] == first["Message-ID"]
    assert first["List-Unsubscribe"] == "<https://crm.example/u/token7>"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["From"] == "Shop <news@shop.example>"
    assert first["Subject"] == "Hello 7"


def test_html_goes_as_an_alternative_to_the_plain_text(smtp):
    EmailChannel(mailer=SMTP_MAILER).send_chunk([make(1, body="Plain", html_body="<p>Rich</p>")])

    message = parsed(smtp.delivered[0])
    assert message.get_body(("plain",)).get_content().strip() == "Plain"
    assert message.get_body(("html",)).get_content().strip() == "<p>Rich</p>"


def test_a_subject_with_line_breaks_is_sent_on_one_line(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk([make(1, subject="Hi\r\nBcc: x@y")])

    assert outcomes[0].status == SENT
    assert parsed(smtp.delivered[0])["Subject"] == "Hi Bcc: x@y"
    assert parsed(smtp.delivered[0])["Bcc"] is None


def test_a_4xx_answer_is_transient_with_the_reply_and_the_chunk_goes_on(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk(
        [make(1), make(2, to="busy@example.com"), make(3)]
    )

    assert [o.status for o in outcomes] == [SENT, TRANSIENT, SENT]
    assert outcomes[1].error == "451 4.3.2 Mailbox busy, try again later"
    assert len(smtp.delivered) == 2
    assert smtp.connections == 1


def test_a_5xx_answer_fails_the_message_with_the_servers_reply(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk(
        [make(1, to="nobody@example.com"), make(2, to="spam@example.com"), make(3)]
    )

    assert [o.status for o in outcomes] == [PERMANENT, PERMANENT, SENT]
    assert outcomes[0].error == ("550 5.1.1 <nobody@example.com>: Recipient address rejected")
    assert outcomes[1].error == "554 5.7.1 Message rejected as spam"


def test_a_connection_dropped_mid_chunk_is_transient_and_the_rest_reconnects(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk(
        [make(1), make(2, to="drop@example.com"), make(3), make(4)]
    )

    assert [o.status for o in outcomes] == [SENT, TRANSIENT, SENT, SENT]
    assert outcomes[1].error.startswith("connection lost")
    assert [e.rcpt_tos[0] for e in smtp.delivered] == [
        "customer1@example.com",
        "customer3@example.com",
        "customer4@example.com",
    ]
    assert smtp.connections == 2


def test_a_server_that_cannot_be_reached_makes_the_whole_chunk_transient(settings):
    settings.MAILERS = {
        **settings.MAILERS,
        SMTP_MAILER: {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": _free_port(), "timeout": 2},
        },
    }

    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk([make(1), make(2)])

    assert [o.status for o in outcomes] == [TRANSIENT, TRANSIENT]
    assert outcomes[0].error.startswith("could not connect")


def test_an_address_that_cannot_be_sent_to_fails_at_once(smtp):
    outcomes = EmailChannel(mailer=SMTP_MAILER).send_chunk(
        [make(1, to="not an address\n@x"), make(2)]
    )

    assert [o.status for o in outcomes] == [PERMANENT, SENT]


def test_the_default_mailer_of_the_tests_collects_the_chunk(mailoutbox):
    outcomes = EmailChannel().send_chunk([make(1), make(2)])

    assert [o.status for o in outcomes] == [SENT, SENT]
    assert [m.to for m in mailoutbox] == [["customer1@example.com"], ["customer2@example.com"]]
    assert mailoutbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
