"""Themes of the comments on a fixed corpus whose themes are known by hand: stems and
stop words by PostgreSQL's English dictionary, one mention per answer, the rollup kept
by triggers as answers come and (with their customer) go, and the API."""

import pytest

from crm_project.tenancy import account_scope
from customers import services as customer_services
from feedback import selectors, services, themes
from feedback.models import Feedback, FeedbackMention, FeedbackTheme
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

THEMES = "/api/v1/feedback/themes/"

CORPUS = [
    ("Late delivery.", 2),
    ("The delivery was late again, late late late", 1),
    ("Delivery was late", 3),
    ("Friendly staff and great prices", 5),
    ("Great prices, friendly staff!", 4),
    ("Staff were friendly.", 5),
    ("Slow checkout", 3),
    ("Checkout was slow", 4),
    ("It was fine.", 3),
    ("The the the and of, was it", 3),
    ("", 4),
]


def answer_all(account, corpus):
    """Each comment from its own customer, answered in order; their ids."""
    ids = []
    with account_scope(account):
        for comment, rating in corpus:
            customer = CustomerFactory(account=account)
            feedback = Feedback.objects.create(account=account, customer=customer, channel="email")
            services.feedback_answer(feedback=feedback, rating=rating, comment=comment)
            ids.append(feedback.pk)
    return ids


@pytest.fixture
def corpus(account):
    return answer_all(account, CORPUS)


def test_the_corpus_themes(api_client, corpus):
    response = api_client.get(THEMES)
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "theme": "friendly staff",
            "mentions": 3,
            "average_rating": 4.67,
            "sentiment": "positive",
            "examples": [
                "Staff were friendly.",
                "Great prices, friendly staff!",
                "Friendly staff and great prices",
            ],
        },
        {
            "theme": "late delivery",
            "mentions": 3,
            "average_rating": 2.0,
            "sentiment": "negative",
            "examples": [
                "Delivery was late",
                "The delivery was late again, late late late",
                "Late delivery.",
            ],
        },
        {
            "theme": "great prices",
            "mentions": 2,
            "average_rating": 4.5,
            "sentiment": "positive",
            "examples": ["Great prices, friendly staff!", "Friendly staff and great prices"],
        },
        {
            "theme": "slow checkout",
            "mentions": 2,
            "average_rating": 3.5,
            "sentiment": "neutral",
            "examples": ["Checkout was slow", "Slow checkout"],
        },
    ]


def test_mentions_are_stemmed_once_per_answer_without_stop_words(account, corpus):
    with account_scope(account):
        keys = {
            pk: set(FeedbackMention.objects.filter(feedback_id=pk).values_list("key", flat=True))
            for pk in corpus
        }
        rollup = {
            key: (mentions, rating_sum)
            for key, mentions, rating_sum in FeedbackTheme.objects.values_list(
                "key", "mentions", "rating_sum"
            )
        }
    # "late" four times is one mention; "again" and "was" are stop words; a comma ends
    # a phrase, so "late late" is no theme (nor would it be: one stem).
    assert keys[corpus[1]] == {"deliveri", "late", "deliveri late"}
    assert keys[corpus[0]] == keys[corpus[2]] == keys[corpus[1]]
    assert keys[corpus[3]] == {
        "friend",
        "staff",
        "great",
        "price",
        "friend staff",
        "great staff",
        "great price",
        "friend great staff",
        "great price staff",
    }
    assert keys[corpus[8]] == {"fine"}
    assert keys[corpus[9]] == keys[corpus[10]] == set()
    stop_words = {"the", "and", "of", "was", "it", "again", "were"}
    assert not {word for key in rollup for word in key.split()} & stop_words
    assert rollup["deliveri late"] == (3, 6)
    assert rollup["late"] == (3, 6)
    assert rollup["great staff"] == (1, 5)
    assert rollup["fine"] == (1, 3)


def test_limit_and_min_mentions(api_client, corpus):
    body = api_client.get(THEMES, {"min_mentions": 1, "limit": 50}).json()
    by_theme = {row["theme"]: row for row in body}
    assert by_theme["fine"]["mentions"] == 1
    assert by_theme["fine"]["sentiment"] == "neutral"
    # Shorter phrases said exactly as often as a longer one holding them give way to it:
    # "staff" (3) to "friendly staff" (3), not to "great staff" (1), which gives way to
    # "friendly staff great" (1).
    assert "staff" not in by_theme
    assert "late" not in by_theme
    assert "great staff" not in by_theme
    assert by_theme["friendly staff great"]["mentions"] == 1
    assert by_theme["staff great prices"]["mentions"] == 1
    assert [row["theme"] for row in api_client.get(THEMES, {"limit": 1}).json()] == [
        "friendly staff"
    ]
    assert api_client.get(THEMES, {"limit": 0}).status_code == 400
    assert api_client.get(THEMES, {"min_mentions": "two"}).status_code == 400


@pytest.mark.parametrize(
    ("rating", "sentiment"),
    [(5.0, "positive"), (4.0, "positive"), (3.99, "neutral"), (3.0, "neutral"), (2.99, "negative")],
)
def test_sentiment_boundaries(rating, sentiment):
    assert selectors.sentiment(rating) == sentiment


def test_sentiment_from_the_average_of_the_mentions(account):
    answer_all(account, [("rude driver", 4), ("rude driver", 3), ("okay", 5), ("okay", 3)])
    with account_scope(account):
        found = {row["theme"]: row for row in selectors.feedback_themes(account)}
    assert (found["rude driver"]["average_rating"], found["rude driver"]["sentiment"]) == (
        3.5,
        "neutral",
    )
    assert (found["okay"]["average_rating"], found["okay"]["sentiment"]) == (4.0, "positive")


def test_a_deleted_customers_feedback_leaves_the_rollup(account, corpus):
    with account_scope(account):
        customer = Feedback.objects.get(pk=corpus[1]).customer
        customer_services.customer_delete(customer=customer)
        assert not FeedbackMention.objects.filter(feedback_id=corpus[1]).exists()
        theme = FeedbackTheme.objects.get(key="deliveri late")
        assert (theme.mentions, theme.rating_sum) == (2, 5)
        assert theme.examples == [corpus[2], corpus[0]]
        found = {row["theme"]: row for row in selectors.feedback_themes(account)}
        assert found["late delivery"]["mentions"] == 2
        assert found["late delivery"]["average_rating"] == 2.5
        # A theme left without mention goes.
        Feedback.objects.get(pk=corpus[8]).customer.delete()
        assert not FeedbackTheme.objects.filter(key="fine").exists()


def test_examples_are_refilled_from_the_remaining_mentions(account):
    ids = answer_all(account, [("Lost parcel", 1)] * 4)
    with account_scope(account):
        assert FeedbackTheme.objects.get(key="lost parcel").examples == ids[:0:-1]
        Feedback.objects.get(pk=ids[3]).customer.delete()
        theme = FeedbackTheme.objects.get(key="lost parcel")
        assert (theme.mentions, theme.examples) == (3, [ids[2], ids[1], ids[0]])


def test_index_in_bulk_once(account):
    """The demo data and imports index many answers at once: each answered request not
    indexed yet, once; a batch's label is its most common wording."""
    comments = ["Late delivery", "delivery late", "delivery late", "no answer", "Late delivery"]
    with account_scope(account):
        customer = CustomerFactory(account=account)
        for index, comment in enumerate(comments):
            Feedback.objects.create(
                account=account,
                customer=customer,
                channel="email",
                rating=index % 5 + 1,
                comment=comment,
                answered_at="2026-01-01T00:00:00Z" if index < 4 else None,
            ) if index < 4 else Feedback.objects.create(
                account=account, customer=customer, channel="email", comment=comment
            )
        written = themes.mentions_index(account_id=account.pk)
        assert written == 3 * 3 + 1  # "answer" alone: "no" is a stop word
        assert themes.mentions_index(account_id=account.pk) == 0
        theme = FeedbackTheme.objects.get(key="deliveri late")
        assert (theme.label, theme.mentions, theme.rating_sum) == ("delivery late", 3, 6)
        assert not FeedbackMention.objects.filter(label__contains="no").exists()


def test_an_answer_over_the_api_is_indexed(api_client, account):
    customer = CustomerFactory(account=account, email="ada@example.com")
    with account_scope(account):
        feedback = Feedback.objects.create(account=account, customer=customer, channel="email")
    for _ in range(2):
        response = api_client.post(
            f"/api/v1/feedback/{feedback.pk}/", {"rating": 2, "comment": "Cold pizza"}, "json"
        )
    assert response.status_code == 409
    with account_scope(account):
        assert sorted(FeedbackMention.objects.values_list("key", flat=True)) == [
            "cold",
            "cold pizza",
            "pizza",
        ]
        assert FeedbackTheme.objects.get(key="cold pizza").mentions == 1


def test_another_accounts_themes(api_client, other_api_client, account, corpus):
    assert other_api_client.get(THEMES).json() == []
    assert len(api_client.get(THEMES).json()) == 4
    with account_scope(account):
        # Indexing names its account: another account's id finds none of these answers.
        assert themes.mentions_index(account_id=account.pk, feedback_ids=corpus) == 0
