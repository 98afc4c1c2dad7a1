"""Whatever is typed, the parser answers a rule that passes the validator as it is, or
no rule with the whole prompt unparsed; what it reports unparsed is the prompt's own
text."""

import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.nlp import lexicon, offline_parse, phrases
from segments.rules import validate_rule

TODAY = date(2025, 6, 15)

_VOCABULARY = sorted(
    {
        word
        for name in dir(phrases)
        for value in [getattr(phrases, name)]
        if isinstance(value, list)
        for phrase in value
        if isinstance(phrase, tuple)
        for word in phrase
    }
    | lexicon.FILLERS
    | lexicon.NEGATORS
    | set(lexicon.MONTHS)
    | set(lexicon.UNITS)
    | set(lexicon.NUMBER_WORDS)
    | {
        "Paris",
        "London",
        "France",
        "the UK",
        "New York",
        "vip",
        "gold",
        "Nike",
        "SKU-1",
        "#vip",
        "@gmail.com",
        "tier",
        "=",
        ",",
        ".",
        "(",
        ")",
        "+",
        "-",
        "€",
        "$",
        "'x y'",
        '"a"',
        "0",
        "3",
        "40",
        "1.5k",
        "500",
        "1,000",
        "2024",
        "2024-03-01",
        "31/12/2024",
        "-5",
        "99999999999999999999999999999999999",
        "1e9",
        "29/02/2023",
        "\u00e9t\u00e9",
    }
)
word_salads = st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=30).map(" ".join)


def _check(prompt):
    result = offline_parse(prompt, today=TODAY)
    if result.rules is None:
        assert result.unparsed == ([prompt.strip()] if prompt.strip() else [])
    else:
        assert validate_rule(result.rules) == result.rules
        assert result.rules.get("logic") in ("AND", "OR")
        assert result.explanation.endswith(".")
    for fragment in result.unparsed:
        assert fragment
        assert fragment in prompt


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(word_salads)
def test_word_salads_give_a_valid_rule_or_none_with_everything_unparsed(prompt):
    _check(prompt)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_rule_or_none(prompt):
    _check(prompt)


ADVERSARIAL = [
    " and ".join(f"w{i}x" for i in range(400)),
    "tagged " + " and ".join(f"w{i}x" for i in range(400)),
    "with the " + " and ".join(f"w{i}x" for i in range(400)) + " tag",
    "bought " + " or ".join(f"Brand{i}" for i in range(300)),
    "in " + " or ".join(f"City{i}" for i in range(300)),
    "whose tier is " + " or ".join(f"t{i}" for i in range(400)),
    "not " * 500,
    "Paris " * 400,
    "tagged a, " * 300,
    "spent over 500 and " * 120,
]


@pytest.mark.parametrize("prompt", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_the_longest_prompts_are_read_in_linear_time(prompt):
    prompt = prompt[:2000]
    started = time.perf_counter()

    _check(prompt)

    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "prompt",
    [
        "ordered in the last 1" + "0" * 40 + " months",
        "ordered in the last 9" * 3 + "e99 months",
        "signed up in the last 99999999999999999999999d",
    ],
)
def test_durations_past_any_calendar_are_not_understood_rather_than_raising(prompt):
    result = offline_parse(prompt, today=TODAY)
    assert "last_order_date" not in str(result.rules) or result.unparsed
    assert result.unparsed
