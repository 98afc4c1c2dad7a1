"""`parse_segment` with `LLM_URL` set: the model's rule goes through the same validator,
and the offline parser answers whenever the model fails (error, timeout, garbage, an
invalid rule). The model is a local stub server; nothing leaves the machine."""

import json
import socket
from datetime import date

import pytest

from campaigns import llm
from campaigns.errors import InvalidRequest
from campaigns.nlp import offline_parse, parse_segment
from tests.campaigns.stubs import Answer, stub_server

TODAY = date(2025, 6, 15)
PROMPT = "customers in Paris who spent over 500"


def chat(content):
    """An OpenAI-style chat completion answering `content`."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Answer(200, {"choices": [{"message": {"role": "assistant", "content": text}}]})


@pytest.fixture
def model(settings):
    with stub_server(lambda request: chat({"rules": None})) as server:
        settings.LLM_URL = server.url + "/v1/chat/completions"
        settings.LLM_API_KEY = "sk-test"
        yield server


def test_without_llm_url_the_offline_parser_answers(settings):
    settings.LLM_URL = ""

    result = parse_segment(PROMPT, today=TODAY)

    assert result.source == "offline"
    assert result.rules == offline_parse(PROMPT, today=TODAY).rules


def test_the_models_rule_is_validated_normalized_and_explained(model):
    model.answer_with(
        lambda request: chat(
            {
                "rules": {
                    "logic": "AND",
                    "rules": [
                        {"field": "city", "operator": "==", "value": "Paris"},
                        {"field": "lifetimeSpend", "operator": ">", "value": 500},
                    ],
                },
                "unparsed": ["who", "not in the prompt"],
            }
        )
    )

    result = parse_segment(PROMPT, today=TODAY)

    assert result.source == "llm"
    assert result.rules == {
        "logic": "AND",
        "rules": [
            {"field": "city", "operator": "=", "value": "Paris"},
            {"field": "lifetime_spend", "operator": ">", "value": "500.00"},
        ],
    }
    assert result.explanation == "City is Paris and lifetime spend is more than 500.00."
    assert result.unparsed == ["who"]  # only the prompt's own words


def test_the_request_carries_the_key_the_prompt_and_the_rule_language(model):
    model.answer_with(
        lambda request: chat({"rules": {"field": "city", "operator": "=", "value": "Paris"}})
    )

    result = parse_segment(PROMPT, today=TODAY)

    assert result.rules == {
        "logic": "AND",
        "rules": [{"field": "city", "operator": "=", "value": "Paris"}],
    }
    (request,) = model.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    body = request.json()
    assert body["messages"][-1] == {"role": "user", "content": PROMPT}
    assert "within_last_days" in body["messages"][0]["content"]
    assert "2025-06-15" in body["messages"][0]["content"]


@pytest.mark.parametrize(
    "answer",
    [
        chat({"rules": {"field": "shoe_size", "operator": ">", "value": 40}}),
        chat({"rules": {"logic": "AND", "rules": []}}),
        chat({"rules": None}),
        chat("this is not JSON"),
        chat(["a", "list"]),
        Answer(200, b"<html>"),
        Answer(500, {"error": "overloaded"}),
        Answer(429, {"error": "slow down"}),
    ],
    ids=[
        "invalid rule",
        "empty group",
        "no rule",
        "not json",
        "not an object",
        "html",
        "500",
        "429",
    ],
)
def test_any_failure_of_the_model_falls_back_to_the_offline_parser(model, answer):
    model.answer_with(lambda request: answer)

    result = parse_segment(PROMPT, today=TODAY)

    assert result.source == "offline"
    assert result.rules == offline_parse(PROMPT, today=TODAY).rules


def test_a_slow_model_falls_back_to_the_offline_parser(model, monkeypatch):
    monkeypatch.setattr(llm, "TIMEOUT", 0.3)
    model.answer_with(lambda request: Answer(200, {"rules": None}, delay=2))

    result = parse_segment(PROMPT, today=TODAY)

    assert result.source == "offline"
    assert result.rules is not None


def test_an_unreachable_model_falls_back_to_the_offline_parser(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_URL = f"http://127.0.0.1:{port}/v1/chat/completions"

    result = parse_segment(PROMPT, today=TODAY)

    assert result.source == "offline"


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("", "blank"),
        ("   ", "blank"),
        (None, "invalid_type"),
        (42, "invalid_type"),
        ("a\x00b", "invalid"),
        ("x" * 2001, "max_length"),
    ],
)
def test_a_prompt_that_is_not_usable_text_is_refused_on_prompt(prompt, code):
    with pytest.raises(InvalidRequest) as caught:
        parse_segment(prompt, today=TODAY)

    assert caught.value.attr == "prompt"
    assert caught.value.code == code
