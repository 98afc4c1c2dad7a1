"""The SMS channel: the `http` provider against a local stub (keep-alive, the same
Idempotency-Key on every try, 2xx sent, 408/429/5xx/timeouts transient with
Retry-After, other 4xx permanent with the provider's reason) and the `log` provider."""

import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from campaigns.channels import (
    PERMANENT,
    SENT,
    TRANSIENT,
    HttpSmsChannel,
    LogSmsChannel,
    Sms,
    parse_retry_after,
    shared_http_client,
    sms_channel,
)
from tests.campaigns.stubs import Answer, stub_server


def sms(number):
    return Sms(f"0190a000-0000-7000-8000-{number:012d}", f"+3361234{number:04d}", f"Hi {number}")


@pytest.fixture
def provider():
    with stub_server(
        lambda request: Answer(202, {"id": "prov-" + request.json()["to"][-4:]})
    ) as server:
        yield server


def channel(server, **kwargs):
    return HttpSmsChannel(url=server.url + "/sms", token="tok-123", **kwargs)


def test_a_2xx_answer_is_sent_with_the_providers_id(provider):
    (outcome,) = channel(provider).send_chunk([sms(1)])

    assert outcome.status == SENT
    assert outcome.provider_id == "prov-0001"


def test_each_request_carries_the_body_the_token_and_the_message_id_as_idempotency_key(
    provider,
):
    channel(provider).send_chunk([sms(5)])

    (request,) = provider.requests
    assert request.path == "/sms"
    assert request.json() == {
        "to": "+33612340005",
        "body": "Hi 5",
        "message_id": "0190a000-0000-7000-8000-000000000005",
    }
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Idempotency-Key"] == "0190a000-0000-7000-8000-000000000005"


def test_every_try_of_a_message_carries_the_same_idempotency_key(provider):
    provider.answer_with(lambda request: Answer(503, {"error": "down"}))
    sender = channel(provider)

    sender.send_chunk([sms(9)])
    provider.answer_with(lambda request: Answer(200, {}))
    sender.send_chunk([sms(9)])

    keys = [r.headers["Idempotency-Key"] for r in provider.requests]
    assert keys == ["0190a000-0000-7000-8000-000000000009"] * 2


def test_a_chunk_reuses_one_keep_alive_connection(provider):
    outcomes = channel(provider).send_chunk([sms(n) for n in range(10)])

    assert [o.status for o in outcomes] == [SENT] * 10
    assert len({r.client for r in provider.requests}) == 1


def test_a_chunk_may_send_concurrently_and_keeps_its_order(provider):
    outcomes = channel(provider, concurrency=4).send_chunk([sms(n) for n in range(40)])

    assert [o.provider_id for o in outcomes] == [f"prov-{n:04d}" for n in range(40)]
    assert len({r.headers["Idempotency-Key"] for r in provider.requests}) == 40


def test_a_provider_slow_to_answer_gets_the_chunk_in_parallel(provider):
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def slow(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.03)
        with lock:
            in_flight[0] -= 1
        return Answer(200, {"id": "x"})

    provider.answer_with(slow)
    started = time.monotonic()
    outcomes = channel(provider, concurrency=8).send_chunk([sms(n) for n in range(40)])

    assert [o.status for o in outcomes] == [SENT] * 40
    assert peak[0] > 1  # after the first answers showed the provider is slow
    assert time.monotonic() - started < 40 * 0.03 / 2


def test_a_provider_that_answers_at_once_gets_the_chunk_one_after_another(provider):
    outcomes = channel(provider, concurrency=8).send_chunk([sms(n) for n in range(20)])

    assert [o.provider_id for o in outcomes] == [f"prov-{n:04d}" for n in range(20)]
    assert len({r.client for r in provider.requests}) == 1  # one connection: serial


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_transient_with_retry_after(provider, status):
    provider.answer_with(
        lambda request: Answer(status, {"error": "busy"}, headers={"Retry-After": "120"})
    )

    (outcome,) = channel(provider).send_chunk([sms(1)])

    assert outcome.status == TRANSIENT
    assert outcome.retry_after == 120
    assert outcome.error == f"HTTP {status}: busy"


def test_retry_after_as_an_http_date_is_read_in_seconds(provider):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    provider.answer_with(lambda request: Answer(503, {}, headers={"Retry-After": when}))

    (outcome,) = channel(provider).send_chunk([sms(1)])

    assert 85 <= outcome.retry_after <= 90


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(400, {"error": "Invalid phone number"}), "HTTP 400: Invalid phone number"),
        (Answer(422, {"message": "Body too long"}), "HTTP 422: Body too long"),
        (Answer(401, {"detail": "Bad token"}), "HTTP 401: Bad token"),
        (Answer(404, b"no such route"), "HTTP 404: no such route"),
    ],
)
def test_other_4xx_fail_the_message_with_the_providers_reason(provider, answer, error):
    provider.answer_with(lambda request: answer)

    (outcome,) = channel(provider).send_chunk([sms(1)])

    assert outcome.status == PERMANENT
    assert outcome.error == error
    assert outcome.retry_after is None


def test_a_timeout_is_transient(provider):
    provider.answer_with(lambda request: Answer(200, {}, delay=2))

    with httpx.Client(timeout=0.3) as client:
        (outcome,) = channel(provider, client=client).send_chunk([sms(1)])

    assert outcome.status == TRANSIENT
    assert outcome.error.startswith("timeout")


def test_a_provider_that_cannot_be_reached_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    (outcome,) = HttpSmsChannel(url=f"http://127.0.0.1:{port}/sms", token="t").send_chunk([sms(1)])

    assert outcome.status == TRANSIENT
    assert outcome.error.startswith("connection error")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("30", 30.0), (" 7 ", 7.0), ("soon", None), ("-5", None)],
)
def test_retry_after_headers(header, seconds):
    assert parse_retry_after(header) == seconds


def test_a_retry_after_date_in_the_past_is_now():
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)

    assert parse_retry_after(past) == 0


def test_the_worker_process_keeps_one_client():
    assert shared_http_client() is shared_http_client()


def test_the_log_provider_logs_each_sms_and_counts_it_sent(caplog):
    with caplog.at_level(logging.INFO, logger="campaigns.channels"):
        outcomes = LogSmsChannel().send_chunk([sms(1), sms(2)])

    assert [o.status for o in outcomes] == [SENT, SENT]
    assert "0190a000-0000-7000-8000-000000000002" in caplog.text


def test_sms_provider_setting_picks_the_channel(settings):
    settings.SMS_PROVIDER = "log"
    assert isinstance(sms_channel(), LogSmsChannel)

    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = "https://sms.example/send"
    settings.SMS_HTTP_TOKEN = "secret"
    chosen = sms_channel()
    assert isinstance(chosen, HttpSmsChannel)
    assert (chosen.url, chosen.token) == ("https://sms.example/send", "secret")
