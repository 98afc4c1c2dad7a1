"""Every non-trivial read of feedback: the requests and answers, the requests due for a
reminder, the request a public token names, the analytics, the themes and the
dashboard."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from accounts.models import Account
from crm_project import datetimes
from crm_project.ratios import average, ratio
from crm_project.tenancy import account_scope, unscoped
from feedback.models import Feedback, FeedbackCategory, FeedbackTheme

REMINDER_BATCH = 1000


def feedback_list(account: Account) -> QuerySet[Feedback]:
    return Feedback.objects.filter(account=account).select_related("customer")


def feedback_due_for_reminder(
    account: Account, *, due_before: datetime, max_reminders: int
) -> list[Feedback]:
    """Unanswered requests last sent before `due_before` with reminders left, locked
    (rows another run holds are skipped), oldest send first, at most REMINDER_BATCH."""
    rows = (
        Feedback.objects.filter(
            account=account,
            answered_at__isnull=True,
            last_sent_at__lte=due_before,
            reminders_sent__lt=max_reminders,
        )
        .select_related("customer", "account")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("last_sent_at", "id")
    )
    return list(rows[:REMINDER_BATCH])


def feedback_account_id(feedback_id: uuid.UUID) -> uuid.UUID | None:
    """The account of a request, across accounts (the public form's one cross-account
    read; None: no such request)."""
    with unscoped():
        return Feedback.objects.filter(pk=feedback_id).values_list("account_id", flat=True).first()


@contextmanager
def feedback_in_its_scope(feedback_id: uuid.UUID) -> Iterator[Feedback | None]:
    """The request, with the block running in its account's scope; None (and no scope)
    when there is no such request."""
    account_id = feedback_account_id(feedback_id)
    if account_id is None:
        yield None
        return
    with account_scope(account_id):
        yield Feedback.objects.select_related("account", "customer").filter(pk=feedback_id).first()


def customer_feedback(account: Account, customer_id: Any, limit: int) -> list[Feedback]:
    """The customer's newest `limit` requests by their timeline time (the answer's, or
    the request's while unanswered), newest first."""
    rows = Feedback.objects.filter(account=account, customer_id=customer_id).annotate(
        at=Coalesce("answered_at", "requested_at")
    )
    return list(rows.order_by("-at", "-id")[:limit])


# --- Analytics, themes, dashboard ---------------------------------------------------------
#
# Two set-based queries for the analytics (the window's requests counted by category
# and rating, then the answers' weeks in the account's timezone) and one on the
# themes' rollup (feedback.themes, migration 0002), whatever the number of answers.

# The window's requests by category and rating (a few dozen groups, each with how many
# requests and how many answered): every figure of the analytics is a sum of these.
ANALYTICS_SQL = """
SELECT category, rating, count(*) AS requests, count(answered_at) AS responses
  FROM feedback_feedback
 WHERE account_id = %(account)s {window}
 GROUP BY category, rating
"""

# The weeks are grouped in a hash table (a few hundred of them): the fence keeps the
# planner from taking each answer's week for a distinct value and sorting every answer.
WEEKS_SQL = """
SELECT week, count(*) AS responses, sum(rating) AS rating_sum
  FROM (SELECT (date_trunc('week', answered_at AT TIME ZONE %(tz)s))::date AS week, rating
          FROM feedback_feedback
         WHERE account_id = %(account)s AND answered_at IS NOT NULL {window}
        OFFSET 0) AS answers
 GROUP BY week
 ORDER BY week
"""

RATINGS = range(1, 6)
LOW_RATING = 2
LOW_RATINGS_SHOWN = 10
POSITIVE_FROM = Decimal(4)
NEUTRAL_FROM = Decimal(3)
THEME_EXAMPLES = 3


def _window_sql(start: datetime | None, end: datetime | None) -> str:
    return (" AND requested_at >= %(start)s" if start is not None else "") + (
        " AND requested_at < %(end)s" if end is not None else ""
    )


def _average(rating_sum: Any, count: int) -> float | None:
    return average(Decimal(rating_sum) / count) if count else None


def feedback_analytics(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The requests made in [start, end) (None: open) and their answers: requests,
    responses, response_rate (responses / requests, 0..1, 0 without requests),
    average_rating (None without answers), rating_distribution ("1".."5", zeros
    included), csat (share of answers rated 4 or 5, 0..1; None without answers, like
    the average: no answer is not a 0% satisfaction), by_category (every category,
    zeros included, by the request's category after the answer; an answer of no
    category counts in the totals only), weekly_trend (the answers by the week of
    `answered_at`, weeks starting Monday 00:00 in the account's timezone; only weeks
    with answers, oldest first)."""
    window = _window_sql(start, end)
    params: dict[str, Any] = {
        "account": account.pk,
        "start": start,
        "end": end,
        "tz": str(datetimes.account_zone(account)),
    }
    with connection.cursor() as cursor:
        cursor.execute(ANALYTICS_SQL.format(window=window), params)
        groups = cursor.fetchall()
        cursor.execute(WEEKS_SQL.format(window=window), params)
        weeks = cursor.fetchall()
    requests = sum(group[2] for group in groups)
    responses = sum(group[3] for group in groups)
    rated = {n: sum(rows for _, rating, rows, _ in groups if rating == n) for n in RATINGS}
    rating_sum = sum(n * rows for n, rows in rated.items())
    by_category = {}
    for category in FeedbackCategory.values:
        answered = sum(done for group, _, _, done in groups if group == category)
        total = sum(rating * rows for group, rating, rows, _ in groups
                    if group == category and rating is not None)  # fmt: skip
        by_category[category] = {"responses": answered, "average_rating": _average(total, answered)}
    return {
        "requests": requests,
        "responses": responses,
        "response_rate": ratio(responses, requests),
        "average_rating": _average(rating_sum, responses),
        "rating_distribution": {str(n): rated[n] for n in RATINGS},
        "csat": ratio(rated[4] + rated[5], responses) if responses else None,
        "by_category": by_category,
        "weekly_trend": [
            {"week": week, "responses": count, "average_rating": _average(total, count)}
            for week, count, total in weeks
        ],
    }


def sentiment(average_rating: float) -> str:
    """positive from 4, neutral from 3, else negative (of the two-place average)."""
    value = Decimal(str(average_rating))
    if value >= POSITIVE_FROM:
        return "positive"
    return "neutral" if value >= NEUTRAL_FROM else "negative"


def _is_sub_phrase(key: str, of: str) -> bool:
    words = key.split(" ")
    longer = of.split(" ")
    return len(words) < len(longer) and set(words) <= set(longer)


def feedback_themes(account: Account, *, limit: int = 20, min_mentions: int = 2) -> list[dict]:
    """The account's recurring themes (feedback.themes) mentioned by at least
    `min_mentions` answers, most mentioned first then by label, at most `limit`: theme
    (its label), mentions (answers mentioning it), average_rating (of those answers, two
    places), sentiment (positive from 4, neutral from 3, else negative), examples (up to
    3 comments, newest request first). A phrase mentioned exactly as often as a longer
    phrase holding all its words (so by exactly the same answers: "late" beside "late
    delivery", both 3) is left out for the longer one; from the rollup's top rows, one
    query for them and one for the examples' comments."""
    if limit <= 0:
        return []
    candidates = list(
        FeedbackTheme.objects.filter(account=account, mentions__gte=max(min_mentions, 1))
        .order_by("-mentions", "label", "key")
        .values_list("key", "label", "mentions", "rating_sum", "examples")[: limit * 4 + 20]
    )
    kept = [
        row
        for row in candidates
        if not any(other[2] == row[2] and _is_sub_phrase(row[0], other[0]) for other in candidates)
    ][:limit]
    example_ids = {pk for row in kept for pk in row[4][:THEME_EXAMPLES]}
    comments = dict(
        Feedback.objects.filter(account=account, pk__in=example_ids).values_list("pk", "comment")
    )
    themes = []
    for _key, label, mentions, rating_sum, examples in kept:
        rating = average(Decimal(rating_sum) / mentions) or 0.0
        themes.append(
            {
                "theme": label,
                "mentions": mentions,
                "average_rating": rating,
                "sentiment": sentiment(rating),
                "examples": [comments[pk] for pk in examples[:THEME_EXAMPLES] if pk in comments],
            }
        )
    return themes


def feedback_low_ratings(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> list[Feedback]:
    """The last LOW_RATINGS_SHOWN answers rated LOW_RATING or less (requested in
    [start, end)), newest answer first."""
    rows = feedback_list(account).filter(answered_at__isnull=False, rating__lte=LOW_RATING)
    if start is not None:
        rows = rows.filter(requested_at__gte=start)
    if end is not None:
        rows = rows.filter(requested_at__lt=end)
    return list(rows.order_by("-answered_at", "-id")[:LOW_RATINGS_SHOWN])


def feedback_dashboard(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The analytics and the low ratings of the window, and the themes (all time: the
    rollup has no time)."""
    return {
        "analytics": feedback_analytics(account, start=start, end=end),
        "themes": feedback_themes(account),
        "low_ratings": feedback_low_ratings(account, start=start, end=end),
    }
