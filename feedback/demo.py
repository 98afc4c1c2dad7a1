# ruff: noqa: E501  (long SQL lines read better unbroken)
"""Demo feedback for `manage.py seed_demo`, set-based like orders.demo: requests a day
or so after some of the seed's orders, about 60 % answered within two days with
ratings skewed positive and, mostly, a comment from a small bank of real-sounding
sentences (its category with it). Deterministic (ids are hashes of the seed's keys):
the same seed twice adds nothing the second time."""

from dataclasses import dataclass
from typing import Any

from django.db import connection

from feedback.models import Feedback
from orders.demo import _rand
from orders.models import Order

ANSWERED_PERCENT = 60
COMMENTED_PERCENT = 80  # of the answers (a multiple of 10: every tenth request counts)
# Ratings 1..5 weighted: most customers are happy.
RATING_WEIGHTS = [5, 7, 13, 35, 40]
# (category, text) by tone: ratings 4-5 draw from the praise, 3 from the mixed, 1-2
# from the complaints.
PRAISE = [
    ("product", "Great quality, exactly as described."),
    ("product", "Love it, already ordered a second one."),
    ("delivery", "Fast delivery, well packaged."),
    ("delivery", "Arrived a day early, thank you!"),
    ("support", "Friendly support, they answered within the hour."),
    ("support", "The store staff were really helpful."),
    ("pricing", "Good value for the price."),
    ("other", "Smooth checkout, nothing to complain about."),
]
MIXED = [
    ("product", "Nice product but the size runs small."),
    ("delivery", "Delivery took longer than announced, product is fine."),
    ("pricing", "A bit too expensive for what it is."),
    ("support", "Support was polite but slow to reply."),
    ("other", "Okay overall, the website could be easier to use."),
]
COMPLAINTS = [
    ("delivery", "Late delivery, nobody told me why."),
    ("delivery", "The parcel arrived damaged."),
    ("product", "Poor quality, it broke after a week."),
    ("product", "Not what the pictures showed."),
    ("pricing", "Too expensive, I found it cheaper elsewhere."),
    ("support", "Nobody answered my emails."),
    ("support", "Rude support on the phone."),
]

TABLES = [Feedback._meta.db_table]


@dataclass
class FeedbackSummary:
    requests: int
    answered: int


def _texts(bank: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [category for category, _ in bank], [text for _, text in bank]


def generate(*, account_id: Any, requests: int, orders: int, seed: int = 1) -> FeedbackSummary:
    """Write up to `requests` feedback requests of the account in scope (call inside
    account_scope, after orders.demo.generate with `orders` orders): one after each of
    evenly spaced orders of the seed among those `orders`, skipping cancelled and
    refunded ones."""
    if requests <= 0 or orders <= 0:
        return FeedbackSummary(0, 0)
    praise_categories, praise = _texts(PRAISE)
    mixed_categories, mixed = _texts(MIXED)
    complaint_categories, complaints = _texts(COMPLAINTS)
    params: dict[str, Any] = {
        "account": str(account_id),
        "seed": str(seed),
        "n_requests": min(requests, orders),
        "n_orders": orders,
        "ratings": [r for r, weight in enumerate(RATING_WEIGHTS, 1) for _ in range(weight)],
        "answered": ANSWERED_PERCENT,
        "commented": COMMENTED_PERCENT,
        "praise": praise,
        "praise_categories": praise_categories,
        "mixed": mixed,
        "mixed_categories": mixed_categories,
        "complaints": complaints,
        "complaint_categories": complaint_categories,
    }
    fk = "%(seed)s || ':fb:' || f.i || ':{col}'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH asked AS (
                SELECT f.i, o.customer_id, o.number,
                       least(now() - interval '1 minute',
                             o.ordered_at + make_interval(secs => 6 * 3600 + {_rand(fk.format(col="after"), 3 * 86400)}))
                           AS requested_at,
                       {_rand(fk.format(col="answered"), 100)} < %(answered)s AS answers,
                       f.i %% 10 < %(commented)s / 10 AS comments,
                       (%(ratings)s::int[])[1 + {_rand(fk.format(col="rating"), "cardinality(%(ratings)s::int[])")}] AS rating,
                       {_rand(fk.format(col="text"), 1000)} AS text_dice,
                       {_rand(fk.format(col="delay"), 2 * 86400)} AS delay,
                       CASE WHEN {_rand(fk.format(col="ch"), 10)} < 8 THEN 'email' ELSE 'sms' END AS channel
                  FROM generate_series(1, %(n_requests)s) AS f(i)
                  JOIN {Order._meta.db_table} o
                    ON o.account_id = %(account)s::uuid
                   AND o.id = md5(%(account)s || %(seed)s || ':o:' ||
                                  (1 + (f.i - 1)::bigint * %(n_orders)s / %(n_requests)s))::uuid
                 WHERE o.status NOT IN ('cancelled', 'refunded')
            ), answered AS (
                SELECT a.*,
                       CASE WHEN a.answers
                            THEN least(now(), a.requested_at + make_interval(secs => 300 + a.delay)) END
                           AS answered_at,
                       CASE WHEN NOT a.answers OR NOT a.comments THEN ''
                            WHEN a.rating >= 4 THEN (%(praise)s::text[])[1 + a.text_dice %% cardinality(%(praise)s::text[])]
                            WHEN a.rating = 3 THEN (%(mixed)s::text[])[1 + a.text_dice %% cardinality(%(mixed)s::text[])]
                            ELSE (%(complaints)s::text[])[1 + a.text_dice %% cardinality(%(complaints)s::text[])] END
                           AS comment,
                       CASE WHEN NOT a.answers OR NOT a.comments THEN ''
                            WHEN a.rating >= 4 THEN (%(praise_categories)s::text[])[1 + a.text_dice %% cardinality(%(praise)s::text[])]
                            WHEN a.rating = 3 THEN (%(mixed_categories)s::text[])[1 + a.text_dice %% cardinality(%(mixed)s::text[])]
                            ELSE (%(complaint_categories)s::text[])[1 + a.text_dice %% cardinality(%(complaints)s::text[])] END
                           AS category
                  FROM asked a
            ), ins AS (
            INSERT INTO {Feedback._meta.db_table}
                (id, account_id, customer_id, channel, category, message, requested_at,
                 last_sent_at, reminders_sent, rating, comment, answered_at, answered_via,
                 created_at, updated_at)
            SELECT md5(%(account)s || %(seed)s || ':fb:' || a.i)::uuid, %(account)s::uuid,
                   a.customer_id, a.channel, a.category,
                   'How was your order #' || a.number || '? Tell us in one minute.',
                   a.requested_at, a.requested_at, 0,
                   CASE WHEN a.answers THEN a.rating END, a.comment, a.answered_at,
                   CASE WHEN a.answers THEN 'form' ELSE '' END,
                   a.requested_at, coalesce(a.answered_at, a.requested_at)
              FROM answered a
            ON CONFLICT DO NOTHING
            RETURNING answered_at
            )
            SELECT count(*), count(answered_at) FROM ins
            """,  # noqa: S608  (table names from the models, values are parameters)
            params,
        )
        made, answered = cursor.fetchone()
    return FeedbackSummary(made, answered)
