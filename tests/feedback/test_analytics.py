"""Feedback analytics over a handmade set: exact figures, the window by request time
(bare dates in the account's timezone), the weeks of the answers in that timezone, the
dashboard's low ratings, and tenancy."""

from datetime import UTC, datetime

import pytest

from crm_project.tenancy import account_scope
from feedback import selectors, services
from feedback.models import Feedback
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ANALYTICS = "/api/v1/feedback/analytics/"
DASHBOARD = "/api/v1/feedback/dashboard/"


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (requested_at, request category, answer: (answered_at, rating, category) or None)
SET = {
    "f1": ("2026-01-02T10:00", "", ("2026-01-02T18:00", 5, "product")),
    # Answered on Sunday 4 January 23:30 in Los Angeles (Monday 07:30 UTC), requested
    # on Friday 2 January 23:00 there (Saturday in UTC).
    "f2": ("2026-01-03T07:00", "", ("2026-01-05T07:30", 4, "delivery")),
    "f3": ("2026-01-05T20:00", "delivery", ("2026-01-06T20:00", 1, "")),
    "f4": ("2026-01-06T20:00", "", ("2026-01-07T20:00", 2, "")),
    "f5": ("2026-01-07T20:00", "product", None),
    "f6": ("2026-02-10T20:00", "", ("2026-02-11T20:00", 3, "support")),
}


@pytest.fixture
def answers(account):
    account.timezone = "America/Los_Angeles"
    account.save(update_fields=["timezone"])
    customer = CustomerFactory(account=account, email="ada@example.com")
    made = {}
    with account_scope(account):
        for name, (requested, category, answer) in SET.items():
            feedback = Feedback.objects.create(
                account=account,
                customer=customer,
                channel="email",
                category=category,
                requested_at=at(requested),
            )
            if answer:
                answered, rating, answer_category = answer
                services.feedback_answer(
                    feedback=feedback,
                    rating=rating,
                    category=answer_category,
                    comment=f"comment {name}",
                    now=at(answered),
                )
            made[name] = feedback.pk
    return made


def zero_categories():
    return {
        category: {"responses": 0, "average_rating": None}
        for category in ("product", "support", "delivery", "pricing", "other")
    }


def test_all_time_figures(api_client, answers):
    response = api_client.get(ANALYTICS)
    assert response.status_code == 200, response.content
    by_category = zero_categories()
    by_category["product"] = {"responses": 1, "average_rating": 5.0}
    by_category["delivery"] = {"responses": 2, "average_rating": 2.5}
    by_category["support"] = {"responses": 1, "average_rating": 3.0}
    assert response.json() == {
        "requests": 6,
        "responses": 5,
        "response_rate": 0.8333,
        "average_rating": 3.0,
        "rating_distribution": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1},
        "csat": 0.4,
        "by_category": by_category,
        "weekly_trend": [
            # The Sunday-night answer is in the week of Monday 29 December (Los
            # Angeles), not the week of 5 January it is in UTC.
            {"week": "2025-12-29", "responses": 2, "average_rating": 4.5},
            {"week": "2026-01-05", "responses": 2, "average_rating": 1.5},
            {"week": "2026-02-09", "responses": 1, "average_rating": 3.0},
        ],
    }


def test_the_window_filters_requests_by_local_dates(api_client, answers):
    # 3 January 00:00 in Los Angeles: f2 (requested 2 January 23:00 there) is out.
    response = api_client.get(ANALYTICS, {"date_from": "2026-01-03", "date_to": "2026-01-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["requests"], body["responses"], body["response_rate"]) == (3, 2, 0.6667)
    assert (body["average_rating"], body["csat"]) == (1.5, 0.0)
    assert body["rating_distribution"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0}
    assert body["by_category"]["delivery"] == {"responses": 1, "average_rating": 1.0}
    assert body["by_category"]["product"] == {"responses": 0, "average_rating": None}
    assert body["weekly_trend"] == [{"week": "2026-01-05", "responses": 2, "average_rating": 1.5}]
    # A datetime bound: f1 and f2 only.
    body = api_client.get(
        ANALYTICS, {"date_from": "2026-01-01T00:00:00Z", "date_to": "2026-01-04T00:00:00Z"}
    ).json()
    assert (body["requests"], body["responses"], body["csat"]) == (2, 2, 1.0)


def test_an_empty_window_is_zeros(api_client, answers):
    body = api_client.get(ANALYTICS, {"date_from": "2030-01-01"}).json()
    assert body == {
        "requests": 0,
        "responses": 0,
        "response_rate": 0.0,
        "average_rating": None,
        "rating_distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "csat": None,
        "by_category": zero_categories(),
        "weekly_trend": [],
    }


@pytest.mark.parametrize("path", [ANALYTICS, DASHBOARD])
@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"date_from": "2026-01-05T00:00:00Z", "date_to": "2026-01-05T00:00:00Z"},
        {"date_from": "yesterday"},
        {"date_to": "2026-13-01"},
    ],
)
def test_a_bad_window_is_a_400(api_client, path, query):
    response = api_client.get(path, query)
    assert response.status_code == 400, response.content


def test_another_account_sees_its_own_zeros(other_api_client, answers):
    body = other_api_client.get(ANALYTICS).json()
    assert (body["requests"], body["responses"], body["average_rating"]) == (0, 0, None)
    assert body["weekly_trend"] == []
    dashboard = other_api_client.get(DASHBOARD).json()
    assert dashboard["analytics"]["requests"] == 0
    assert dashboard["low_ratings"] == []
    assert dashboard["themes"] == []


def test_the_dashboard(api_client, account, answers):
    response = api_client.get(DASHBOARD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["analytics"]["requests"] == 6
    assert body["analytics"]["csat"] == 0.4
    low = body["low_ratings"]
    assert [row["id"] for row in low] == [str(answers["f4"]), str(answers["f3"])]
    ratings = [(row["rating"], row["comment"]) for row in low]
    assert ratings == [(2, "comment f4"), (1, "comment f3")]
    assert {"customer", "answered_at", "category", "answered"} <= set(low[0])
    # "comment" is a theme of every answer (min 2 mentions).
    assert body["themes"][0]["theme"] == "comment"
    assert body["themes"][0]["mentions"] == 5
    windowed = api_client.get(DASHBOARD, {"date_from": "2026-01-06", "date_to": "2026-01-06"})
    assert [row["id"] for row in windowed.json()["low_ratings"]] == [str(answers["f4"])]


def test_the_dashboard_shows_the_last_ten_low_ratings(account):
    customer = CustomerFactory(account=account, email="bo@example.com")
    with account_scope(account):
        made = []
        for day in range(1, 13):
            feedback = Feedback.objects.create(account=account, customer=customer, channel="email")
            services.feedback_answer(
                feedback=feedback, rating=1 + day % 2, now=at(f"2026-03-{day:02d}T12:00")
            )
            made.append(feedback.pk)
        services.feedback_answer(
            feedback=Feedback.objects.create(account=account, customer=customer, channel="sms"),
            rating=3,
            now=at("2026-03-20T12:00"),
        )
        low = selectors.feedback_dashboard(account)["low_ratings"]
    assert [row.pk for row in low] == made[::-1][:10]
