"""The words of the rule language (SPEC section 5): field types and their operators, the
fields, the criteria and their parameters, and the limits of a rule. The validator,
the compiler (segments.compiler) and the catalog (/segments/fields/) all read them here,
so they cannot disagree."""

from dataclasses import dataclass

AND, OR = "AND", "OR"

# Limits. A rule becomes one SQL query and may come from the API, the builder page, the
# admin or another app (campaigns): the whole rule is bounded, not only each group.
MIN_CHILDREN = 1
MAX_CHILDREN = 50  # rules of a group, parts of a rule, criteria of a part
MAX_DEPTH = 5  # nested groups: the root group is level 1
MAX_NODES = 500  # JSON objects in the whole rule: groups, conditions, criteria, parts
MAX_RULE_BYTES = 50_000  # the whole rule as compact UTF-8 JSON
MAX_NESTING = 16  # JSON arrays and objects inside one another (a legal rule needs 12)
MAX_VALUES = 500  # items of a list value: in / not_in, pos_ids, makers, skus
MAX_TEXT = 1000  # characters of one text value
MAX_REFERENCE = 100  # characters of a point of sale code
MAX_DAYS = 100_000
MAX_NUMBER_DIGITS = 30  # digits of a number value, before and after the point

TEXT, NUMBER, DATE, BOOLEAN, TAGS, AGENT, METADATA = (
    "text",
    "number",
    "date",
    "boolean",
    "tags",
    "agent",
    "metadata",
)

# Number kinds: how a value is coerced.
MONEY, COUNT, DECIMAL = "money", "count", "decimal"

METADATA_PREFIX = "metadata."
# Other prefixes read as `metadata.` (seed names of the customer's custom fields).
METADATA_PREFIX_ALIASES = ("custom_fields.", "customFields.")

# What "blank" strips, in Python and in SQL (`btrim(x, WHITESPACE)`).
WHITESPACE = " \t\n\r\f\v"

TEXT_OPERATORS = (
    "=",
    "!=",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
)
NUMBER_OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "between", "is_empty", "is_not_empty")
DATE_OPERATORS = (
    "=",
    ">",
    ">=",
    "<",
    "<=",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "is_empty",
    "is_not_empty",
)
BOOLEAN_OPERATORS = ("=",)
TAGS_OPERATORS = ("contains", "in", "not_contains")
AGENT_OPERATORS = ("=", "!=", "in", "not_in", "is_empty", "is_not_empty")
# `metadata.KEY`: the text operators, and the number ones when the value is a number.
METADATA_OPERATORS = (*TEXT_OPERATORS, ">", ">=", "<", "<=", "between")

OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    TEXT: TEXT_OPERATORS,
    NUMBER: NUMBER_OPERATORS,
    DATE: DATE_OPERATORS,
    BOOLEAN: BOOLEAN_OPERATORS,
    TAGS: TAGS_OPERATORS,
    AGENT: AGENT_OPERATORS,
    METADATA: METADATA_OPERATORS,
}
ALL_OPERATORS = frozenset(op for names in OPERATORS_BY_TYPE.values() for op in names)
NUMBER_ONLY_OPERATORS = frozenset({">", ">=", "<", "<=", "between"})
NO_VALUE_OPERATORS = frozenset({"is_empty", "is_not_empty"})
LIST_OPERATORS = frozenset({"in", "not_in"})
DAYS_OPERATORS = frozenset({"within_last_days", "more_than_days_ago"})

OPERATOR_ALIASES = {
    "==": "=",
    "eq": "=",
    "equals": "=",
    "is": "=",
    "<>": "!=",
    "ne": "!=",
    "neq": "!=",
    "not_equals": "!=",
    "is_not": "!=",
    "gt": ">",
    "gte": ">=",
    "ge": ">=",
    "lt": "<",
    "lte": "<=",
    "le": "<=",
    "not_contain": "not_contains",
    "does_not_contain": "not_contains",
    "startswith": "starts_with",
    "endswith": "ends_with",
    "notin": "not_in",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str
    number_kind: str | None = None  # NUMBER fields: MONEY, COUNT or DECIMAL
    has_time: bool = False  # DATE fields stored as datetimes (taken in the account's zone)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("first_name", TEXT, "First name"),
        Field("last_name", TEXT, "Last name"),
        Field("email", TEXT, "Email"),
        Field("phone", TEXT, "Phone"),
        Field("company", TEXT, "Company"),
        Field("type", TEXT, "Type"),
        Field("status", TEXT, "Status"),
        Field("gender", TEXT, "Gender"),
        Field("city", TEXT, "City"),
        Field("state", TEXT, "State"),
        Field("zip", TEXT, "ZIP"),
        Field("country", TEXT, "Country"),
        Field("tags", TAGS, "Tags"),
        Field("date_of_birth", DATE, "Date of birth"),
        Field("created_at", DATE, "Created", has_time=True),
        Field("lifetime_spend", NUMBER, "Lifetime spend", number_kind=MONEY),
        Field("total_orders", NUMBER, "Total orders", number_kind=COUNT),
        Field("average_order_value", NUMBER, "Average order value", number_kind=MONEY),
        Field("first_order_date", DATE, "First order date", has_time=True),
        Field("last_order_date", DATE, "Last order date", has_time=True),
        Field("loyalty_points", NUMBER, "Loyalty points", number_kind=DECIMAL),
        Field("email_opt_in", BOOLEAN, "Email opt-in"),
        Field("sms_opt_in", BOOLEAN, "SMS opt-in"),
        Field("assigned_to", AGENT, "Assigned to"),
    )
}
# Seed 000's names; any other camelCase name is read as snake_case too.
FIELD_ALIASES = {
    "lifetimeSpend": "lifetime_spend",
    "totalOrders": "total_orders",
    "lastOrderDate": "last_order_date",
    "firstOrderDate": "first_order_date",
    "averageOrderValue": "average_order_value",
    "dateOfBirth": "date_of_birth",
    "createdAt": "created_at",
    "assigned_to_id": "assigned_to",
    "custom_fields": "metadata",
}

# Kinds of criterion parameters (how segments.rules.values coerces each).
COUNT_PARAM, MONEY_PARAM, PERCENT, DAYS, ISO_DATE, POS, POS_LIST, TEXT_LIST, CHOICE = (
    "count",
    "money",
    "percent",
    "days",
    "date",
    "pos",
    "pos_list",
    "text_list",
    "choice",
)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # one of the parameter kinds above
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Criterion:
    type: str
    label: str
    description: str
    params: tuple[Param, ...]
    # (low, high): at least one is required, and low <= high when both are given.
    bounds: tuple[str, str] | None = None


ANNIVERSARY_TYPES = ("birthday", "registration")
AMOUNTS = (
    Param("from_amount", MONEY_PARAM, "From", aliases=("fromAmount",)),
    Param("to_amount", MONEY_PARAM, "To", aliases=("toAmount",)),
)

CRITERIA: dict[str, Criterion] = {
    c.type: c
    for c in (
        Criterion(
            "transaction_count",
            "Number of orders",
            "The number of counted orders is within [min, max].",
            (Param("min", COUNT_PARAM, "At least"), Param("max", COUNT_PARAM, "At most")),
            bounds=("min", "max"),
        ),
        Criterion(
            "transaction_amount",
            "Total spent",
            "The sum of the counted orders' amounts is within [from, to] (0 without orders).",
            AMOUNTS,
            bounds=("from_amount", "to_amount"),
        ),
        Criterion(
            "average_transaction_amount",
            "Average order amount",
            "Has counted orders and their exact average amount is within [from, to].",
            AMOUNTS,
            bounds=("from_amount", "to_amount"),
        ),
        Criterion(
            "bought_in_pos",
            "Bought in a point of sale",
            "Some counted order was at one of these points of sale (ids, or codes).",
            (Param("pos_ids", POS_LIST, "Points of sale", required=True, aliases=("posIds",)),),
        ),
        Criterion(
            "bought_makers",
            "Bought a brand",
            "Some counted order has an item of one of these brands (case ignored).",
            (Param("makers", TEXT_LIST, "Brands", required=True, aliases=("brands",)),),
        ),
        Criterion(
            "bought_skus",
            "Bought a SKU",
            "Some counted order has an item with one of these SKUs (exact).",
            (Param("skus", TEXT_LIST, "SKUs", required=True, aliases=("sku_ids", "skuIds")),),
        ),
        Criterion(
            "last_purchase_n_days_before",
            "Purchased within the last days",
            "Some counted order was placed on or after the start of the day `days` days "
            "before today.",
            (Param("days", DAYS, "Days", required=True),),
        ),
        Criterion(
            "purchase_period",
            "Purchased in a period",
            "Some counted order was placed on a date within [from_date, to_date].",
            (
                Param("from_date", ISO_DATE, "From", required=True, aliases=("fromDate",)),
                Param("to_date", ISO_DATE, "To", required=True, aliases=("toDate",)),
            ),
            bounds=("from_date", "to_date"),
        ),
        Criterion(
            "transaction_percent_in_pos",
            "Share of orders in a point of sale",
            "Has counted orders and at least `percent`% of them (by count) were at that "
            "point of sale.",
            (
                Param("pos_id", POS, "Point of sale", required=True, aliases=("posId",)),
                Param("percent", PERCENT, "Percent (0-100)", required=True),
            ),
        ),
        Criterion(
            "anniversary",
            "Anniversary",
            "The next birthday or registration anniversary falls within the next `days` "
            "days (today included; 29 February counts as 28 February in common years).",
            (
                Param(
                    "anniversary_type",
                    CHOICE,
                    "Anniversary of",
                    required=True,
                    aliases=("anniversaryType",),
                    choices=ANNIVERSARY_TYPES,
                ),
                Param("days", DAYS, "Days", required=True),
            ),
        ),
    )
}

# Keys a client may send back (Open Loyalty's ids, a builder's own ids): ignored.
IGNORED_KEYS = frozenset(
    {"id", "criterion_id", "criterionId", "segment_part_id", "segmentPartId", "part_id"}
)
