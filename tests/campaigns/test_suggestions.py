"""Message suggestions: ready templates of the product's template language, varied and
deterministic; the LLM's answers pass the same checks, the offline generator fills in."""

import itertools
import json

import pytest

from campaigns.errors import InvalidRequest
from campaigns.suggestions import (
    CHANNELS,
    SMS_LIMIT,
    TONES,
    Suggestion,
    offline_suggestions,
    read_objective,
    suggest_messages,
    suggestion_is_valid,
)
from campaigns.templates import SAMPLE_CONTEXT, render_text
from tests.campaigns.stubs import Answer, stub_server

SEED_OBJECTIVE = "Increase repeat orders from VIP customers with personalized discount messages"
OBJECTIVES = [
    SEED_OBJECTIVE,
    "Win back customers who haven't ordered in 6 months with 15% off",
    "Welcome new subscribers",
    'Launch of our "Summer Collection"',
    "Invite customers to the store opening event",
    "Ask for feedback after delivery",
    "Thank our loyal customers",
    "Birthday wishes with 10 percent off",
    "Black Friday sale: 30% off everything",
    "Just say hello",
]


@pytest.mark.parametrize(
    ("objective", "channel", "tone"),
    list(itertools.product(OBJECTIVES, CHANNELS, TONES)),
)
def test_every_suggestion_is_a_ready_template_for_its_channel(objective, channel, tone):
    suggestions = offline_suggestions(objective=objective, channel=channel, tone=tone, count=10)

    assert len(suggestions) == 10
    assert len({s.message for s in suggestions}) == 10
    for suggestion in suggestions:
        rendered = render_text(suggestion.message, SAMPLE_CONTEXT, html=False)
        assert "[" not in suggestion.message
        assert "{" not in rendered
        assert "Alex" in rendered
        if channel == "sms":
            assert suggestion.subject is None
            assert len(suggestion.message) <= SMS_LIMIT
            assert len(rendered) <= SMS_LIMIT
        else:
            assert "{{ unsubscribe_url }}" in suggestion.message
            assert suggestion.subject
            assert "{" not in render_text(suggestion.subject, SAMPLE_CONTEXT, html=False)


def test_the_seed_objective_gives_personal_discount_messages_for_vips():
    suggestions = suggest_messages(objective=SEED_OBJECTIVE)

    assert len(suggestions) == 3
    for suggestion in suggestions:
        assert suggestion.message.startswith(
            (
                'Hi {{ first_name|default:"there" }}',
                'Hello {{ first_name|default:"there" }}',
                'Hey {{ first_name|default:"there" }}',
            )
        )
        assert "discount" in suggestion.message
        assert "VIP" in suggestion.message


def test_a_percentage_in_the_objective_is_the_offer():
    suggestions = offline_suggestions(
        objective="Win back lapsed customers with 15% off", channel="sms", count=5
    )

    assert all("15% off" in s.message for s in suggestions)


def test_the_same_request_gives_the_same_suggestions():
    first = suggest_messages(
        objective="Summer sale 20% off", channel="email", tone="playful", count=5
    )
    second = suggest_messages(
        objective="Summer sale 20% off", channel="email", tone="playful", count=5
    )

    assert first == second


def test_different_objectives_read_different_intents():
    intents = [read_objective(objective).intent for objective in OBJECTIVES]

    assert intents == [
        "promotion",
        "winback",
        "welcome",
        "new_product",
        "event",
        "feedback",
        "loyalty",
        "birthday",
        "promotion",
        "generic",
    ]


def test_a_quoted_name_in_the_objective_is_used():
    (suggestion,) = offline_suggestions(objective='Launch of "Summer Collection"', count=1)

    assert "Summer Collection" in suggestion.message


@pytest.mark.parametrize(
    ("kwargs", "attr"),
    [
        ({"objective": ""}, "objective"),
        ({"objective": None}, "objective"),
        ({"objective": "x" * 1001}, "objective"),
        ({"objective": "ok", "channel": "fax"}, "channel"),
        ({"objective": "ok", "tone": "angry"}, "tone"),
        ({"objective": "ok", "count": 0}, "count"),
        ({"objective": "ok", "count": 11}, "count"),
        ({"objective": "ok", "count": "3"}, "count"),
        ({"objective": "ok", "count": True}, "count"),
    ],
)
def test_bad_requests_name_the_input_that_is_wrong(kwargs, attr):
    with pytest.raises(InvalidRequest) as caught:
        suggest_messages(**kwargs)

    assert caught.value.attr == attr


@pytest.mark.parametrize(
    ("suggestion", "channel"),
    [
        (Suggestion("Hi [FIRST_NAME], enjoy [PERCENTAGE]% off!"), "sms"),
        (Suggestion("Hi {{ first_name "), "sms"),
        (Suggestion("Hi {% load x %}"), "sms"),
        (Suggestion("x" * 161), "sms"),
        (Suggestion("Hi {{ first_name }}", "Subject"), "email"),  # no unsubscribe link
        (Suggestion("Hi {{ unsubscribe_url }}", None), "email"),  # no subject
        (Suggestion("Hi {{ unsubscribe_url }}", "Line\nbreak"), "email"),
        (Suggestion("Hi { first_name } {{ unsubscribe_url }}", "S"), "email"),
    ],
)
def test_suggestions_that_are_not_ready_are_refused(suggestion, channel):
    assert not suggestion_is_valid(suggestion, channel)


@pytest.fixture
def model(settings):
    with stub_server(lambda request: Answer(500, {})) as server:
        settings.LLM_URL = server.url
        settings.LLM_API_KEY = ""
        yield server


def chat(content):
    return Answer(200, {"choices": [{"message": {"content": json.dumps(content)}}]})


def test_the_models_valid_suggestions_come_first_and_the_generator_fills_in(model):
    good = {
        "subject": 'Hello {{ first_name|default:"there" }}',
        "message": "Hi {{ first_name }}, 10% off today.\nUnsubscribe: {{ unsubscribe_url }}",
    }
    model.answer_with(
        lambda request: chat(
            {
                "messages": [
                    good,
                    {"subject": "Bad", "message": "Hi [NAME], use code [CODE]"},
                    {"subject": "Broken", "message": "{% if %}"},
                    "not an object",
                ]
            }
        )
    )

    suggestions = suggest_messages(objective="10% off", channel="email", count=3)

    assert suggestions[0] == Suggestion(good["message"], good["subject"])
    assert suggestions[1:] == offline_suggestions(objective="10% off", channel="email", count=3)[:2]


def test_a_failing_model_falls_back_to_the_generator(model):
    suggestions = suggest_messages(objective="Welcome new subscribers", channel="sms", count=4)

    assert suggestions == offline_suggestions(
        objective="Welcome new subscribers", channel="sms", count=4
    )
    assert len(model.requests) == 1
