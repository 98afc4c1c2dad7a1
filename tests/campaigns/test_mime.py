"""The ledger's MIME writer against Python's own parser: whatever the subject, names
and bodies, what it writes parses back to them, for SMTP's CRLF and the file
backend's LF; what it does not write itself goes Django's way."""

import email.policy
from email.parser import BytesParser
from email.utils import formataddr

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.mime import LedgerEmailMessage, WrittenMessage

# Text a message may hold: any characters but NUL and lone surrogates; subjects are one
# line (EmailChannel joins their lines).
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=300)
subject = text.map(lambda s: " ".join(s.split()))
HEADERS = {
    "Message-ID": "<0193e7a0-aaaa-7bbb-8ccc-123456789abc@example.com>",
    "List-Unsubscribe": "<https://crm.example/u/token>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def parsed(message, policy):
    written = message.message(policy=policy)
    assert isinstance(written, WrittenMessage)
    data = written.as_bytes()
    if policy.linesep == "\r\n":
        assert b"\n" not in data.replace(b"\r\n", b"")
    return BytesParser(policy=email.policy.default).parsebytes(data)


def normalized(body):
    return body.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=150, deadline=None)
@given(
    subject=subject,
    body=text,
    html=st.none() | text,
    name=st.sampled_from(["CRM", "Hélène & Co", "", "Ünïcode Shop", 'Say "hi"']),
    policy=st.sampled_from([email.policy.SMTP, email.policy.default]),
)
def test_what_is_written_parses_back_to_the_message(subject, body, html, name, policy):
    sender = formataddr((name, "news@shop.example"))
    message = LedgerEmailMessage(
        subject=subject, body=body, from_email=sender, to=["ann.o'neil+x@example.com"],
        headers=HEADERS,
    )  # fmt: skip
    if html is not None:
        message.attach_alternative(html, "text/html")
    result = parsed(message, policy)
    assert not result.defects
    assert str(result["subject"]) == subject
    assert result["to"].addresses[0].addr_spec == "ann.o'neil+x@example.com"
    assert result["from"].addresses[0].display_name == name
    assert result["from"].addresses[0].addr_spec == "news@shop.example"
    assert result["message-id"] == HEADERS["Message-ID"]
    assert result["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    plain = result.get_body(("plain",))
    assert normalized(plain.get_content()).rstrip("\n") == normalized(body).rstrip("\n")
    if html is None:
        assert not result.is_multipart()
    else:
        assert result.get_content_type() == "multipart/alternative"
        part = result.get_body(("html",))
        assert normalized(part.get_content()).rstrip("\n") == normalized(html).rstrip("\n")


def test_a_non_ascii_address_goes_through_djangos_own_writer():
    message = LedgerEmailMessage(
        subject="Hi", body="x", from_email="a@example.com", to=["hélène@exemple.fr"],
        headers=HEADERS,
    )  # fmt: skip
    written = message.message(policy=email.policy.SMTP)
    assert not isinstance(written, WrittenMessage)
    assert b"To:" in written.as_bytes()


def test_a_header_with_a_line_break_is_refused_as_django_refuses_it():
    message = LedgerEmailMessage(
        subject="Hi", body="x", from_email="a@example.com", to=["b@example.com"],
        headers={**HEADERS, "List-Unsubscribe": "<https://x>\r\nBcc: evil@example.com"},
    )  # fmt: skip
    try:
        data = message.message(policy=email.policy.SMTP).as_bytes()
    except ValueError:
        return
    assert b"\r\nBcc:" not in data
