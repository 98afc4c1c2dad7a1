# ruff: noqa: E501  (long SQL lines read better unbroken)
"""Realistic, deterministic demo data, written set-based: every table is filled by one
`INSERT ... SELECT` over `generate_series`, with pseudo-random choices derived from a
hash of (seed, row, column) in PostgreSQL itself. A million customers and five million
orders take minutes, not hours, and the same seed always gives the same data (ids
included, derived from the seed), so running it twice adds nothing."""

from dataclasses import dataclass
from typing import Any

from django.db import connection

from accounts.services import sequence_reserve
from customers.models import Customer
from orders.models import Order, OrderItem, PointOfSale, Product

FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Chloé",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Inès",
    "Jack",
    "Karim",
    "Léa",
    "Manon",
    "Noah",
    "Olivia",
    "Paul",
    "Quentin",
    "Rose",
    "Sami",
    "Tess",
    "Ugo",
    "Victor",
    "Wendy",
    "Xavier",
    "Yasmine",
    "Zoé",
    "Amir",
    "Bianca",
    "Carlos",
    "Dana",
    "Elif",
    "Femi",
    "Giulia",
    "Hana",
    "Ivan",
    "Jun",
    "Kofi",
    "Lucía",
    "Mei",
    "Nadia",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "Smith",
    "Johnson",
    "Brown",
    "Williams",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Nguyen",
    "Kim",
    "Rossi",
    "Müller",
    "Schmidt",
    "Novak",
    "Kowalski",
    "Silva",
    "Santos",
    "Okafor",
    "Haddad",
]
CITIES = [
    ("Paris", "FR"),
    ("Lyon", "FR"),
    ("Marseille", "FR"),
    ("Toulouse", "FR"),
    ("Lille", "FR"),
    ("Berlin", "DE"),
    ("Munich", "DE"),
    ("Madrid", "ES"),
    ("Barcelona", "ES"),
    ("Milan", "IT"),
    ("Rome", "IT"),
    ("London", "GB"),
    ("Manchester", "GB"),
    ("Brussels", "BE"),
    ("Amsterdam", "NL"),
    ("New York", "US"),
    ("Chicago", "US"),
    ("Austin", "US"),
    ("Montréal", "CA"),
    ("Casablanca", "MA"),
]
TAGS = ["vip", "newsletter", "wholesale", "b2b", "student", "loyal", "returning", "promo"]
TIERS = ["bronze", "silver", "gold", "platinum"]
BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Soylent"]
CATEGORIES = ["shoes", "apparel", "electronics", "home", "beauty", "sports", "toys", "food"]
# (status, weight): most orders complete; every status appears.
STATUSES = [
    ("completed", 60),
    ("delivered", 12),
    ("shipped", 8),
    ("processing", 5),
    ("pending", 5),
    ("cancelled", 6),
    ("refunded", 4),
]
CHANNELS = ["ecommerce", "store", "store", "phone", "other"]
PAYMENTS = ["card", "card", "cash", "transfer", "other"]


# The tables demo data fills (for ANALYZE afterwards).
TABLES = [
    Product._meta.db_table,
    PointOfSale._meta.db_table,
    Customer._meta.db_table,
    Order._meta.db_table,
    OrderItem._meta.db_table,
]


@dataclass
class DemoSummary:
    products: int
    points_of_sale: int
    customers: int
    orders: int
    items: int


def _weighted(values: list[tuple[str, int]]) -> list[str]:
    return [value for value, weight in values for _ in range(weight)]


def _pick(array: str, key: str) -> str:
    """SQL: an element of the array parameter `array`, chosen by the hash of `key`."""
    return f"({array})[1 + (abs(hashtextextended({key}, 0)) %% cardinality({array}))]"


def _rand(key: str, modulo: int | str) -> str:
    """SQL: a deterministic integer in [0, modulo)."""
    return f"((abs(hashtextextended({key}, 0)) %% ({modulo}))::int)"


def generate(
    *,
    account_id: Any,
    customers: int,
    orders: int,
    seed: int = 1,
    products: int = 200,
    points_of_sale: int = 8,
) -> DemoSummary:
    """Write the demo rows for the account in scope (call inside account_scope)."""
    params: dict[str, Any] = {
        "account": str(account_id),
        "seed": str(seed),
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "cities": [c for c, _ in CITIES],
        "countries": [c for _, c in CITIES],
        "tags": TAGS,
        "tiers": TIERS,
        "brands": BRANDS,
        "categories": CATEGORIES,
        "statuses": _weighted(STATUSES),
        "channels": CHANNELS,
        "payments": PAYMENTS,
        "n_products": products,
        "n_pos": points_of_sale,
        "n_customers": customers,
        "n_orders": orders,
    }
    # Row keys: 'seed:kind:i[:column]' hashed; ids are md5 of the same key, so a rerun
    # with the same seed produces the same rows and inserts nothing new.
    key = "%(seed)s || ':{kind}:' || i || ':{col}'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Product._meta.db_table}
                (id, account_id, sku, external_id, name, brand, category, price, active,
                 created_at, updated_at)
            SELECT md5(%(account)s || %(seed)s || ':p:' || i)::uuid, %(account)s::uuid,
                   'SKU-' || lpad(i::text, 5, '0'), NULL,
                   initcap({_pick("%(categories)s::text[]", key.format(kind="p", col="c"))})
                       || ' item ' || i,
                   {_pick("%(brands)s::text[]", key.format(kind="p", col="b"))},
                   {_pick("%(categories)s::text[]", key.format(kind="p", col="c"))},
                   (5 + {_rand(key.format(kind="p", col="price"), 29500)} / 100.0)::numeric(12, 2),
                   true, now(), now()
              FROM generate_series(1, %(n_products)s) AS i
            ON CONFLICT DO NOTHING
            """,  # noqa: S608  (table names from the models, values are parameters)
            params,
        )
        made_products = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {PointOfSale._meta.db_table}
                (id, account_id, name, code, city, created_at, updated_at)
            SELECT md5(%(account)s || %(seed)s || ':s:' || i)::uuid, %(account)s::uuid,
                   (%(cities)s::text[])[1 + (i - 1) %% cardinality(%(cities)s::text[])] || ' store',
                   'POS' || lpad(i::text, 3, '0'),
                   (%(cities)s::text[])[1 + (i - 1) %% cardinality(%(cities)s::text[])],
                   now(), now()
              FROM generate_series(1, %(n_pos)s) AS i
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            params,
        )
        made_pos = cursor.rowcount

        params["first_number"] = (
            sequence_reserve(account_id=account_id, name="customer", count=customers)
            if customers
            else 0
        )
        ck = key.format(kind="c", col="{col}")
        ok = key.format(kind="o", col="{col}")
        # Order i's customer (its i in the customers' series) and time, functions of the
        # seed alone: the customers' sign-up times can follow their first orders before
        # the orders exist. Customers are picked with a skew (square of a uniform): a
        # few buy often, many rarely, some never.
        order_customer = f"""(1 + floor(%(n_customers)s * power(
                           {_rand(ok.format(col="cust"), 1000000)} / 1000000.0, 2))::int)"""
        ordered_at = f"now() - make_interval(secs => {_rand(ok.format(col='at'), 3 * 365 * 86400)})"
        # Each customer's first order time (an order whose items miss a product is not
        # written: the real first order is then later, never earlier).
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE demo_first_orders ON COMMIT DROP AS
            SELECT c AS customer_i, min(at) AS first_at
              FROM (SELECT {order_customer} AS c, {ordered_at} AS at
                      FROM generate_series(1, %(n_orders)s) AS i) AS o
             GROUP BY c
            """,  # noqa: S608
            params,
        )
        cursor.execute("ANALYZE demo_first_orders")
        cursor.execute(
            f"""
            INSERT INTO {Customer._meta.db_table}
                (id, account_id, number, external_id, first_name, last_name, email, phone,
                 company, type, status, gender, date_of_birth, street, city, state, zip,
                 country, billing_address, shipping_address, payment_terms, credit_limit,
                 tax_id, metadata, tags, email_opt_in, sms_opt_in, notes, created_at,
                 updated_at, lifetime_spend, total_orders, refusals_count)
            SELECT md5(%(account)s || %(seed)s || ':c:' || i)::uuid, %(account)s::uuid,
                   %(first_number)s + i - 1, 'DEMO-' || %(seed)s || '-' || i,
                   f.first_name, f.last_name,
                   lower(translate(f.first_name || '.' || f.last_name,
                         'éèëêàâîïôöüûçñíóúáÉ', 'eeeeaaiioouucniouaE'))
                       || '.' || i || '@example.com',
                   '+3361' || lpad({_rand(ck.format(col="ph"), 10000000)}::text, 7, '0'),
                   CASE WHEN i %% 10 = 0 THEN f.last_name || ' SARL' ELSE '' END,
                   CASE WHEN i %% 10 = 0 THEN 'business' ELSE 'individual' END,
                   CASE WHEN i %% 50 = 0 THEN 'inactive' WHEN i %% 199 = 0 THEN 'blocked'
                        ELSE 'active' END,
                   (ARRAY['female', 'male', 'female', 'male', 'other', 'unknown'])
                       [1 + {_rand(ck.format(col="g"), 6)}],
                   CASE WHEN i %% 61 = 0
                        THEN make_date(1960 + 4 * {_rand(ck.format(col="leap"), 12)}, 2, 29)
                        WHEN i %% 7 = 0 THEN NULL
                        ELSE date '1950-01-01' + {_rand(ck.format(col="dob"), 20000)}::int END,
                   (1 + {_rand(ck.format(col="st"), 200)}) || ' rue de la République',
                   f.city, '', lpad({_rand(ck.format(col="zip"), 95000)}::text, 5, '0'),
                   f.country, '', '', CASE WHEN i %% 10 = 0 THEN 'net 30' ELSE '' END,
                   CASE WHEN i %% 5 = 0 THEN (500 * (1 + {_rand(ck.format(col="cl"), 20)}))::numeric
                        END,
                   '',
                   jsonb_build_object(
                       'loyalty_tier', {_pick("%(tiers)s::text[]", ck.format(col="tier"))},
                       'source', (ARRAY['web', 'store', 'referral'])[1 + {_rand(ck.format(col="src"), 3)}],
                       'visits', {_rand(ck.format(col="v"), 120)}
                   ),
                   CASE WHEN i %% 3 = 0 THEN ARRAY[]::varchar[]
                        ELSE ARRAY[{_pick("%(tags)s::text[]", ck.format(col="t1"))}]::varchar[]
                             || CASE WHEN i %% 4 = 0
                                     THEN ARRAY[{_pick("%(tags)s::text[]", ck.format(col="t2"))}]::varchar[]
                                     ELSE ARRAY[]::varchar[] END
                   END,
                   i %% 9 <> 0, i %% 6 <> 0, '',
                   -- Signed up 0-180 days before their first order; those who never
                   -- ordered over the last three years.
                   coalesce(fo.first_at - make_interval(secs => {_rand(ck.format(col="signup"), 180 * 86400)}),
                            now() - make_interval(secs => {_rand(ck.format(col="ca"), 3 * 365 * 86400)})),
                   now(), 0, 0, 0
              FROM generate_series(1, %(n_customers)s) AS i
                   LEFT JOIN demo_first_orders fo ON fo.customer_i = i,
                   LATERAL (SELECT
                       {_pick("%(first_names)s::text[]", ck.format(col="fn"))} AS first_name,
                       {_pick("%(last_names)s::text[]", ck.format(col="ln"))} AS last_name,
                       (%(cities)s::text[])[1 + {_rand(ck.format(col="city"), "cardinality(%(cities)s::text[])")}] AS city,
                       (%(countries)s::text[])[1 + {_rand(ck.format(col="city"), "cardinality(%(cities)s::text[])")}] AS country
                   ) AS f
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            params,
        )
        made_customers = cursor.rowcount

        made_orders = made_items = 0
        if orders and customers:
            params["first_order"] = sequence_reserve(
                account_id=account_id, name="order", count=orders
            )
            # Items first (1-3 per order, priced from the products), in a temporary
            # table, so that each order's amount is the exact sum of its line totals.
            cursor.execute(
                f"""
                CREATE TEMPORARY TABLE demo_items ON COMMIT DROP AS
                SELECT i, j,
                       p.id AS product_id, p.sku, p.name, p.brand, p.price,
                       1 + {_rand(ok.format(col="q") + " || j", 3)} AS quantity,
                       (ARRAY[0, 0, 0, 10, 20])[1 + {_rand(ok.format(col="d") + " || j", 5)}]::numeric
                           AS discount
                  FROM generate_series(1, %(n_orders)s) AS i,
                       generate_series(1, 1 + {_rand(ok.format(col="n"), 3)}) AS j,
                       LATERAL (SELECT id, sku, name, brand, price
                                  FROM {Product._meta.db_table}
                                 WHERE account_id = %(account)s::uuid
                                   AND sku = 'SKU-' || lpad((1 + {_rand(ok.format(col="p") + " || j", "%(n_products)s")})::text, 5, '0')
                       ) AS p
                """,  # noqa: S608
                params,
            )
            cursor.execute(
                f"""
                INSERT INTO {Order._meta.db_table}
                    (id, account_id, number, external_id, customer_id, status, channel,
                     pos_id, payment_method, currency, ordered_at, amount, loyalty_card,
                     shipping_address, billing_address, notes, created_at, updated_at)
                SELECT md5(%(account)s || %(seed)s || ':o:' || i)::uuid, %(account)s::uuid,
                       %(first_order)s + i - 1, NULL,
                       cust.id,
                       {_pick("%(statuses)s::text[]", ok.format(col="s"))},
                       ch.channel,
                       CASE WHEN ch.channel = 'store' THEN
                           (SELECT id FROM {PointOfSale._meta.db_table}
                             WHERE account_id = %(account)s::uuid
                               AND code = 'POS' || lpad((1 + {_rand(ok.format(col="pos"), "%(n_pos)s")})::text, 3, '0'))
                       END,
                       {_pick("%(payments)s::text[]", ok.format(col="pay"))},
                       'EUR',
                       {ordered_at},
                       t.amount, '', '', '', '', now(), now()
                  FROM (SELECT i, sum(round(price * quantity * (1 - discount / 100), 2)) AS amount
                          FROM demo_items GROUP BY i) AS t,
                       LATERAL (SELECT {_pick("%(channels)s::text[]", ok.format(col="ch"))}
                                       AS channel) AS ch,
                       -- Customers are this seed's own (a row an earlier run already
                       -- had is skipped above, and so are its orders).
                       {Customer._meta.db_table} AS cust
                 WHERE cust.account_id = %(account)s::uuid
                   AND cust.id = md5(%(account)s || %(seed)s || ':c:' || {order_customer})::uuid
                ON CONFLICT DO NOTHING
                """,  # noqa: S608
                params,
            )
            made_orders = cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO {OrderItem._meta.db_table}
                    (id, account_id, order_id, product_id, sku, name, brand, quantity,
                     unit_price, discount_percent, line_total, position)
                SELECT md5(%(account)s || %(seed)s || ':i:' || i || ':' || j)::uuid,
                       %(account)s::uuid,
                       md5(%(account)s || %(seed)s || ':o:' || i)::uuid,
                       product_id, sku, name, brand, quantity, price, discount,
                       round(price * quantity * (1 - discount / 100), 2), j
                  FROM demo_items
                 WHERE EXISTS (SELECT 1 FROM {Order._meta.db_table} o
                                WHERE o.account_id = %(account)s::uuid
                                  AND o.id = md5(%(account)s || %(seed)s || ':o:' || i)::uuid)
                ON CONFLICT DO NOTHING
                """,  # noqa: S608
                params,
            )
            made_items = cursor.rowcount
            cursor.execute("DROP TABLE demo_items")
        cursor.execute("DROP TABLE demo_first_orders")
    return DemoSummary(made_products, made_pos, made_customers, made_orders, made_items)
