"""Properties of the pure input rules, against plain oracles (hypothesis)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customers.inputs import clean_tags, names_from_input, split_name
from customers.selectors import customer_ref_filter

WORD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Z", "C"]), min_size=1, max_size=8
)
SPACES = st.text(alphabet=" \t\n", min_size=1, max_size=3)


@given(words=st.lists(WORD, max_size=6), gaps=st.lists(SPACES, min_size=7, max_size=7))
def test_split_name_keeps_every_word_and_makes_the_last_one_the_last_name(words, gaps):
    name = gaps[0] + "".join(word + gap for word, gap in zip(words, gaps[1:], strict=False))
    first, last = split_name(name)
    assert f"{first} {last}".strip() == " ".join(words)
    assert last == (words[-1] if words else "")
    assert " " not in last


@given(first=WORD, last=WORD)
def test_a_given_last_name_is_taken_off_the_end_of_the_name(first, last):
    assert names_from_input(f"{first} {last}", None, last) == (first, last)
    assert names_from_input(first, None, last) in {(first, last), ("", last)}


@given(tags=st.lists(st.text(max_size=6), max_size=10))
def test_clean_tags_matches_a_plain_oracle(tags):
    expected: list[str] = []
    for tag in tags:
        text = " ".join(tag.split())
        if text and text.casefold() not in {e.casefold() for e in expected}:
            expected.append(text)
    assert clean_tags(tags) == expected
    assert clean_tags(clean_tags(tags)) == clean_tags(tags)


@given(number=st.integers(min_value=0, max_value=2**63 - 1))
def test_every_bigint_number_is_a_reference(number):
    assert customer_ref_filter(str(number)) is not None


@pytest.mark.parametrize("ref", ["", "-1", "1.5", "١٢", str(2**63), "abc"])
def test_non_references(ref):
    assert customer_ref_filter(ref) is None
