"""Demo loyalty data for `manage.py seed_demo`, set-based like orders.demo: the
program's levels, a card for most of the seed's customers, and the points their
completed and delivered orders earned, as chained ledger rows. Deterministic (ids are
hashes of the seed's keys): the same seed twice adds nothing the second time."""

from decimal import Decimal
from typing import Any

from django.db import connection

from customers.models import Customer
from loyalty.models import LoyaltyCard, LoyaltyLevel, LoyaltyTransaction
from orders.models import Order

# (name, min_points, earn_multiplier)
LEVELS = [
    ("Silver", Decimal("500"), Decimal("1.25")),
    ("Gold", Decimal("2000"), Decimal("1.50")),
    ("Platinum", Decimal("10000"), Decimal("2.00")),
]
CARD_SHARE_PERCENT = 70  # of the seed's customers who hold a card

TABLES = [
    LoyaltyLevel._meta.db_table,
    LoyaltyCard._meta.db_table,
    LoyaltyTransaction._meta.db_table,
]


def _params(account_id: Any, seed: int, earn_rate: Decimal) -> dict[str, Any]:
    return {
        "account": str(account_id),
        "seed": str(seed),
        "rate": earn_rate,
        "share": CARD_SHARE_PERCENT,
        "names": [name for name, _, _ in LEVELS],
        "mins": [minimum for _, minimum, _ in LEVELS],
        "multipliers": [multiplier for _, _, multiplier in LEVELS],
    }


def generate_cards(*, account_id: Any, seed: int) -> tuple[int, int]:
    """The program's levels and a card for most of the seed's customers of the account
    in scope (call inside account_scope, after orders.demo.generate); answers (levels,
    cards) made. Orders earn at the account's rate without level multipliers (history
    before the levels existed): see generate_points."""
    levels, cards, _ = TABLES
    params = _params(account_id, seed, Decimal(0))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {levels} (id, account_id, name, min_points, earn_multiplier,
                                  created_at, updated_at)
            SELECT md5(%(account)s || ':level:' || name)::uuid, %(account)s::uuid, name,
                   min_points, multiplier, now(), now()
              FROM unnest(%(names)s::text[], %(mins)s::numeric[], %(multipliers)s::numeric[])
                   AS l(name, min_points, multiplier)
            ON CONFLICT DO NOTHING
            """,  # noqa: S608  (table names from the models, values are parameters)
            params,
        )
        made_levels = cursor.rowcount
        # The seed's customers are those whose id orders.demo derived from the seed.
        cursor.execute(
            f"""
            INSERT INTO {cards} (id, account_id, number, customer_id, status, issued_at,
                                 points_balance, points_earned, created_at, updated_at)
            SELECT md5(%(account)s || %(seed)s || ':card:' || c.id)::uuid, c.account_id,
                   'FID-' || %(seed)s || '-' || lpad(c.number::text, 7, '0'), c.id,
                   CASE WHEN abs(hashtext(c.id::text || ':blocked')) %% 50 = 0
                        THEN 'blocked' ELSE 'active' END,
                   coalesce(c.first_order_date, c.created_at), 0, 0, now(), now()
              FROM {Customer._meta.db_table} c
             WHERE c.account_id = %(account)s::uuid
               AND c.external_id LIKE 'DEMO-' || %(seed)s || '-%%'
               AND abs(hashtext(c.id::text || ':card')) %% 100 < %(share)s
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            params,
        )
        made_cards = cursor.rowcount
    return made_levels, made_cards


def generate_points(*, account_id: Any, seed: int, earn_rate: Decimal) -> int:
    """The earn rows of the cards generate_cards made (none yet: a card with rows is
    left as it is), chained per card, and the cards' balances. Run after ANALYZE of the
    cards: each new card's orders are found by one hash join."""
    _, cards, ledger = TABLES
    params = _params(account_id, seed, earn_rate)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH fresh AS MATERIALIZED (
                SELECT k.id, k.customer_id FROM {cards} k
                 WHERE k.account_id = %(account)s::uuid
                   AND k.id = md5(%(account)s || %(seed)s || ':card:' || k.customer_id)::uuid
                   AND NOT EXISTS (SELECT 1 FROM {ledger} t
                                    WHERE t.account_id = k.account_id AND t.card_id = k.id)
            )
            INSERT INTO {ledger} (id, account_id, card_id, customer_id, kind, points,
                                  balance_after, ticket_id, order_id, reason, shortfall,
                                  created_at)
            SELECT md5(%(account)s || ':earn:' || e.order_id)::uuid, %(account)s::uuid,
                   e.card_id, e.customer_id, 'earn', e.points,
                   sum(e.points) OVER (PARTITION BY e.card_id
                                       ORDER BY e.at, e.order_id),
                   NULL, e.order_id, 'Order #' || e.number, 0, e.at
              FROM (SELECT o.id AS order_id, o.number, o.ordered_at AS at, k.id AS card_id,
                           k.customer_id, round(o.amount * %(rate)s, 2) AS points
                      FROM {Order._meta.db_table} o
                      JOIN fresh k ON k.customer_id = o.customer_id
                     WHERE o.account_id = %(account)s::uuid
                       AND o.status IN ('completed', 'delivered')) AS e
             WHERE e.points > 0
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            params,
        )
        made_rows = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {cards} k
               SET points_balance = s.total, points_earned = s.total, updated_at = now()
              FROM (SELECT card_id, sum(points) AS total FROM {ledger}
                     WHERE account_id = %(account)s::uuid GROUP BY card_id) AS s
             WHERE k.account_id = %(account)s::uuid AND k.id = s.card_id
               AND k.points_balance = 0 AND k.points_earned = 0  -- cards made just now
            """,  # noqa: S608
            params,
        )
    return made_rows
