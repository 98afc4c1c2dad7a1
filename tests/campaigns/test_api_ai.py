"""The language helpers over the API: parse-segment (seed 000's example) and message
suggestions, offline."""

import pytest

from campaigns.templates import template_compile
from segments.rules import validate_rule
from tests.factories import PointOfSaleFactory

pytestmark = pytest.mark.django_db

PARSE = "/api/v1/campaigns/ai/parse-segment/"
SUGGEST = "/api/v1/campaigns/ai/message-suggestions/"
SEED_PROMPT = "Customers who spent more than 5000 in the last year and ordered at least 3 times"


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.LLM_URL = ""


def assert_error(response, status, code, attr):
    assert response.status_code == status, response.content
    errors = {(e["code"], e["attr"]) for e in response.json()["errors"]}
    assert (code, attr) in errors, response.json()


def test_seed_000s_prompt_becomes_its_rule(api_client):
    response = api_client.post(PARSE, {"prompt": SEED_PROMPT}, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["rules"] == {
        "logic": "AND",
        "rules": [
            {"field": "lifetime_spend", "operator": ">", "value": "5000.00"},
            {"field": "total_orders", "operator": ">=", "value": 3},
            {"field": "last_order_date", "operator": "within_last_days", "value": 365},
        ],
    }
    assert validate_rule(answer["rules"]) == answer["rules"]
    assert answer["unparsed"] == []
    assert answer["explanation"]
    assert answer["source"] == "offline"


def test_a_prompt_with_nothing_understood_has_no_rule(api_client):
    answer = api_client.post(PARSE, {"prompt": "zxq blorp"}, format="json").json()
    assert answer["rules"] is None
    assert answer["unparsed"]


def test_the_parsed_rule_can_be_previewed_as_is(api_client):
    rules = api_client.post(PARSE, {"prompt": "customers in Lyon"}, format="json").json()["rules"]
    preview = api_client.post(
        "/api/v1/campaigns/preview-audience/", {"rules": rules}, format="json"
    )
    assert preview.status_code == 200, preview.content


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "required"),
        ({"prompt": ""}, "blank"),
        ({"prompt": "   "}, "blank"),
        ({"prompt": "x" * 2001}, "max_length"),
        ({"prompt": "in Lyon\0"}, "null_characters_not_allowed"),
        ({"prompt": None}, "null"),
    ],
)
def test_a_bad_prompt_is_a_400_on_prompt(api_client, body, code):
    assert_error(api_client.post(PARSE, body, format="json"), 400, code, "prompt")


def test_email_suggestions_are_ready_templates(api_client):
    response = api_client.post(
        SUGGEST,
        {"objective": "Increase repeat orders from VIP customers with a 15% discount"},
        format="json",
    )
    assert response.status_code == 200, response.content
    messages = response.json()["messages"]
    assert len(messages) == 3
    assert len({m["message"] for m in messages}) == 3
    for message in messages:
        assert set(message) == {"subject", "message"}
        assert "{{ unsubscribe_url }}" in message["message"]
        assert "[" not in message["message"]
        template_compile(message["message"], html=False)
        template_compile(message["subject"], html=False)


def test_sms_suggestions_fit_in_one_sms_and_have_no_subject(api_client):
    response = api_client.post(
        SUGGEST,
        {"objective": "Win back customers who have not ordered", "channel": "SMS", "count": 5,
         "tone": "Urgent"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    messages = response.json()["messages"]
    assert len(messages) == 5
    assert all(set(m) == {"message"} and len(m["message"]) <= 160 for m in messages)


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({}, "required", "objective"),
        ({"objective": ""}, "blank", "objective"),
        ({"objective": "x" * 1001}, "max_length", "objective"),
        ({"objective": "Sales", "count": 0}, "min_value", "count"),
        ({"objective": "Sales", "count": 11}, "max_value", "count"),
        ({"objective": "Sales", "channel": "fax"}, "invalid_choice", "channel"),
        ({"objective": "Sales", "tone": "angry"}, "invalid_choice", "tone"),
    ],
)
def test_a_bad_suggestion_request_is_a_400_naming_the_field(api_client, body, code, attr):
    assert_error(api_client.post(SUGGEST, body, format="json"), 400, code, attr)


def test_every_role_may_ask_and_nothing_is_shared_between_accounts(
    read_only_client, other_api_client
):
    for client in (read_only_client, other_api_client):
        parsed = client.post(PARSE, {"prompt": "customers in Lyon"}, format="json")
        assert parsed.status_code == 200, parsed.content
        suggested = client.post(SUGGEST, {"objective": "Spring sale"}, format="json")
        assert suggested.status_code == 200, suggested.content


def test_a_point_of_sale_is_resolved_among_the_callers_own(api_client, other_api_client, account):
    lyon = PointOfSaleFactory(account=account, code="LYON1", city="Lyon")
    prompt = {"prompt": "customers who bought at the Lyon store"}
    mine = api_client.post(PARSE, prompt, format="json").json()
    assert mine["rules"] == {
        "logic": "AND",
        "rules": [{"type": "bought_in_pos", "pos_ids": [str(lyon.pk)]}],
    }
    theirs = other_api_client.post(PARSE, prompt, format="json").json()
    assert theirs["rules"] is None
    assert any("bought at the Lyon store" in fragment for fragment in theirs["unparsed"])
