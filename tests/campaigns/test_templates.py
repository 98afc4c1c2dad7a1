"""The sandboxed template language of messages (campaigns.templates)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import templates
from campaigns.errors import InvalidTemplate
from campaigns.templates import SAMPLE_CONTEXT, render, render_text, template_compile

CONTEXT = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "metadata": {"tier": "gold", "points": 42},
    "attributes": {"source": "fair"},
    "account": {"name": "Acme", "ai_assistant_name": "Max", "attributes": {"city": "Lyon"}},
    "unsubscribe_url": "https://crm.example/u/token",
}


def test_documented_variables_and_filters_render():
    text = (
        "{{ first_name }} {{ last_name|upper }} ({{ name|title }}, {{ email }}) "
        "{{ metadata.tier }} {{ attributes.source }} {{ account.name }} "
        "{{ account.ai_assistant_name }} {{ account.attributes.city }} {{ unsubscribe_url }}"
    )

    assert render_text(text, CONTEXT, html=False) == (
        "Ada LOVELACE (Ada Lovelace, ada@example.com) gold fair Acme Max Lyon "
        "https://crm.example/u/token"
    )


def test_missing_and_null_values_render_empty_and_default_applies():
    text = (
        '[{{ nickname }}][{{ metadata.missing }}][{{ last_name }}]{{ first_name|default:"there" }}'
    )

    assert render_text(text, {"last_name": None}, html=False) == "[][][]there"


def test_html_escapes_values_and_text_does_not():
    context = {"first_name": "<b>Tom & Jerry</b>"}

    assert render_text("Hi {{ first_name }}", context, html=True) == (
        "Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    )
    assert render_text("Hi {{ first_name }}", context, html=False) == "Hi <b>Tom & Jerry</b>"


def test_if_with_and_firstof_are_allowed():
    text = (
        "{% if metadata.tier == 'gold' %}Gold{% else %}Other{% endif %} "
        "{% with n=metadata.points %}{{ n }}{% endwith %} {% firstof nickname first_name %}"
    )

    assert render_text(text, CONTEXT, html=False) == "Gold 42 Ada"


@pytest.mark.parametrize(
    "tag",
    [
        "{% load static %}",
        "{% include 'x.html' %}",
        "{% extends 'base.html' %}",
        "{% block content %}{% endblock %}",
        "{% url 'home' %}",
        "{% csrf_token %}",
        "{% debug %}",
        "{% for x in metadata %}{{ x }}{% endfor %}",
        "{% autoescape off %}{{ first_name }}{% endautoescape %}",
        "{% lorem 1000 p %}",
        "{% ssi '/etc/passwd' %}",
    ],
)
def test_tags_that_load_include_reach_outside_or_loop_are_refused_with_their_line(tag):
    with pytest.raises(InvalidTemplate) as caught:
        template_compile(f"Hello\n\n{tag}", html=True)

    name = tag.split()[1]
    assert caught.value.line == 3
    assert caught.value.message == f"Line 3: the tag {{% {name} %}} is not allowed in messages."
    assert caught.value.code == "forbidden_tag"


def test_a_forbidden_tag_inside_a_comment_is_ignored():
    text = "{% comment %}{% load static %}{% endcomment %}ok"

    assert render_text(text, {}, html=False) == "ok"


@pytest.mark.parametrize("name", ["safe", "safeseq", "pprint", "ljust:100", "stringformat:'s'"])
def test_filters_outside_the_sandbox_are_refused(name):
    with pytest.raises(InvalidTemplate) as caught:
        template_compile("{{ first_name|" + name + " }}", html=True)

    assert caught.value.message == (
        f"Line 1: the filter {name.split(':')[0]!r} is not allowed in messages."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Hi\n{% if first_name %}",
            "Line 2: Unclosed tag: 'if'. Looking for one of: elif, else, endif.",
        ),
        ("{{ }}", "Line 1: Empty variable tag"),
        ("a\nb\n{% frobnicate %}", "Line 3: unknown tag {% frobnicate %}."),
        ("{{ first_name|nope }}", "Line 1: Invalid filter: 'nope'"),
        (
            "{{ first_name|truncatechars }}",
            "Line 1: truncatechars requires 2 arguments, 1 provided",
        ),
    ],
)
def test_syntax_errors_name_the_line_and_the_problem(text, message):
    with pytest.raises(InvalidTemplate) as caught:
        template_compile(text, html=False)

    assert caught.value.message == message


def test_nul_characters_are_refused():
    with pytest.raises(InvalidTemplate) as caught:
        template_compile("Hi\x00", html=False)

    assert caught.value.code == "nul_character"


def test_a_100_kb_template_is_refused():
    with pytest.raises(InvalidTemplate) as caught:
        template_compile("x" * 100 * 1024, html=True)

    assert caught.value.code == "too_large"


def test_a_template_at_the_size_cap_compiles():
    text = "é" * (templates.MAX_TEMPLATE_BYTES // 2)

    assert render_text(text, {}, html=False) == text


def test_lone_surrogates_are_refused():
    with pytest.raises(InvalidTemplate):
        template_compile("Hi \ud800", html=False)


def test_a_template_cannot_change_the_context_it_is_given():
    context = {"metadata": {"tier": "gold"}, "account": {"name": "Acme"}}

    render_text(
        "{{ metadata.clear }}{{ metadata.popitem }}{{ account.clear }}", context, html=False
    )

    assert context == {"metadata": {"tier": "gold"}, "account": {"name": "Acme"}}


def test_private_attributes_are_out_of_reach():
    with pytest.raises(InvalidTemplate):
        template_compile("{{ first_name.__class__ }}", html=False)


def test_add_only_adds_numbers():
    text = "{{ metadata.points|add:8 }} {{ first_name|add:first_name }}"

    assert render_text(text, CONTEXT, html=False) == "50 Ada"


def test_chained_filters_cannot_grow_a_value_without_bound():
    # Each join multiplies the length by 11: past the cap a filter answers nothing.
    text = "{{ x" + "|join:'0123456789'" * 6 + "|length }}"

    assert render_text(text, {"x": "ab"}, html=False) == "0"


def test_compiled_templates_are_cached_by_their_text():
    first = template_compile("Hello {{ first_name }}", html=True)

    assert template_compile("Hello {{ first_name }}", html=True) is first
    assert template_compile("Hello {{ first_name }}", html=False) is not first


def test_sample_context_renders_every_documented_variable():
    text = "{{ first_name }}|{{ account.name }}|{{ unsubscribe_url }}"

    assert render_text(text, SAMPLE_CONTEXT, html=False).count("|") == 2
    assert "{{" not in render_text(text, SAMPLE_CONTEXT, html=False)


ARGUMENTS = {
    "cut": "' '",
    "default": "'-'",
    "default_if_none": "'-'",
    "divisibleby": "3",
    "get_digit": "1",
    "join": "', '",
    "slice": "':3'",
    "truncatechars": "5",
    "truncatechars_html": "5",
    "truncatewords": "2",
    "truncatewords_html": "2",
    "wordwrap": "3",
    "date": "'Y'",
    "time": "'H'",
    "yesno": "'a,b'",
}
FILTERS = [
    f"{name}:{ARGUMENTS[name]}" if name in ARGUMENTS else name for name in templates.ALLOWED_FILTERS
]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.dictionaries(st.text(max_size=8), children, max_size=4) | st.lists(children, max_size=4)
    ),
    max_leaves=12,
)
contexts = st.dictionaries(
    st.sampled_from(
        [
            "first_name",
            "last_name",
            "name",
            "email",
            "metadata",
            "attributes",
            "account",
            "unsubscribe_url",
            "x",
        ]
    ),
    values,
)
FUZZ_TEMPLATE = "\n".join(
    [
        f"{{{{ first_name|{name} }}}} {{{{ metadata.tier|{name} }}}} {{{{ x|{name} }}}}"
        for name in (
            "default:'there'",
            "add:2",
            "floatformat:2",
            "slice:':3'",
            "join:', '",
            "truncatechars:5",
            "yesno:'a,b'",
            "date:'Y'",
            "pluralize",
            "divisibleby:3",
            "get_digit:1",
            "wordwrap:3",
            "urlize",
            "first",
            "last",
        )
    ]
    + [f"{{{{ x|{name} }}}} {{{{ metadata|{name} }}}}" for name in FILTERS]
    + ["{% if x > 3 %}big{% endif %} {% firstof x first_name 'none' %}"]
)


@settings(max_examples=150, deadline=None)
@given(contexts)
def test_rendering_never_raises_for_any_context_of_strings_numbers_and_none(context):
    compiled = template_compile(FUZZ_TEMPLATE, html=True)

    assert isinstance(render(compiled, context), str)
    assert isinstance(render(template_compile(FUZZ_TEMPLATE, html=False), context), str)
