"""The segment rule language (SPEC section 5): validation and normalization.

`validate_rule(data)` reads what a client sends as `rules` (a group, a condition or a
criterion) or as Open Loyalty `parts`, and answers the *normalized* rule: the one form
the rest of the product stores, shows and compiles (`segments.compiler`).

The normalized form, JSON as it is (stored in a JSONField and answered as sent):
- group: `{"logic": "AND" | "OR", "rules": [rule, ...]}` (Open Loyalty parts become
  `{"logic": "AND", "rules": [{"logic": "OR", "rules": [criterion, ...]}, ...]}`);
- condition: `{"field": F, "operator": OP, "value": V}`, with the canonical field name
  (`lifetimeSpend` -> `lifetime_spend`, `metadata.KEY` keeps KEY as sent), the
  canonical operator (`==` -> `=`, `NOT_IN` -> `not_in`), and V coerced:
  money and decimals -> decimal strings (`"1630.50"`; two places at least), counts and
  days -> ints, dates -> `"YYYY-MM-DD"`, booleans -> bools, agent ids -> UUID strings,
  `between` -> `[low, high]`, `is_empty` / `is_not_empty` -> null. On `metadata.KEY` the
  value's JSON type is kept, because it chooses the operator family: a JSON number (int
  or float) selects the number operators, a string the text ones;
- criterion: `{"type": T, ...parameters}` with snake_case parameter names (`fromAmount`
  -> `from_amount`, `skuIds` -> `skus`, `posId` -> `pos_id`), absent optional bounds
  left out, values coerced as above (`percent` a decimal string). Points of sale are
  ids (UUID strings) or codes; validated with an `account`, codes are replaced by ids.
Validating a normalized rule again returns it unchanged.

Errors: a `ValidationError` whose detail maps the dotted path of every offending node
(`rules.rules.1.operator`, `parts.0.criteria.2.from_amount`) to its messages. Every
problem is reported, not only the first.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import ErrorDetail, ValidationError

if TYPE_CHECKING:
    from accounts.models import Account

# --- The language's vocabulary ---------------------------------------------------------

AND, OR = "AND", "OR"
MIN_CHILDREN = 1
MAX_CHILDREN = 50
MAX_DEPTH = 5  # groups: the root group is level 1
MAX_LIST = 1000  # values of `in` / `not_in`, pos ids, makers, skus
MAX_TEXT = 1000  # characters of one text value
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
NUMBER_ONLY_OPERATORS = frozenset({">", ">=", "<", "<=", "between"})

OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    TEXT: TEXT_OPERATORS,
    NUMBER: NUMBER_OPERATORS,
    DATE: DATE_OPERATORS,
    BOOLEAN: BOOLEAN_OPERATORS,
    TAGS: TAGS_OPERATORS,
    AGENT: AGENT_OPERATORS,
    METADATA: METADATA_OPERATORS,
}
NO_VALUE_OPERATORS = frozenset({"is_empty", "is_not_empty"})
LIST_OPERATORS = frozenset({"in", "not_in"})

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


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # count | money | percent | days | date | pos | pos_list | text_list | choice
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

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


ANNIVERSARY_TYPES = ("birthday", "registration")

CRITERIA: dict[str, Criterion] = {
    c.type: c
    for c in (
        Criterion(
            "transaction_count",
            "Number of orders",
            "The number of counted orders is within [min, max].",
            (Param("min", "count", "At least"), Param("max", "count", "At most")),
            bounds=("min", "max"),
        ),
        Criterion(
            "transaction_amount",
            "Total spent",
            "The sum of the counted orders' amounts is within [from, to] (0 without orders).",
            (
                Param("from_amount", "money", "From", aliases=("fromAmount",)),
                Param("to_amount", "money", "To", aliases=("toAmount",)),
            ),
            bounds=("from_amount", "to_amount"),
        ),
        Criterion(
            "average_transaction_amount",
            "Average order amount",
            "Has counted orders and their exact average amount is within [from, to].",
            (
                Param("from_amount", "money", "From", aliases=("fromAmount",)),
                Param("to_amount", "money", "To", aliases=("toAmount",)),
            ),
            bounds=("from_amount", "to_amount"),
        ),
        Criterion(
            "bought_in_pos",
            "Bought in a point of sale",
            "Some counted order was at one of these points of sale (ids, or codes).",
            (Param("pos_ids", "pos_list", "Points of sale", required=True, aliases=("posIds",)),),
        ),
        Criterion(
            "bought_makers",
            "Bought a brand",
            "Some counted order has an item of one of these brands (case ignored).",
            (Param("makers", "text_list", "Brands", required=True, aliases=("brands",)),),
        ),
        Criterion(
            "bought_skus",
            "Bought a SKU",
            "Some counted order has an item with one of these SKUs (exact).",
            (Param("skus", "text_list", "SKUs", required=True, aliases=("sku_ids", "skuIds")),),
        ),
        Criterion(
            "last_purchase_n_days_before",
            "Purchased within the last days",
            "Some counted order was placed on or after the start of the day `days` days "
            "before today.",
            (Param("days", "days", "Days", required=True),),
        ),
        Criterion(
            "purchase_period",
            "Purchased in a period",
            "Some counted order was placed on a date within [from_date, to_date].",
            (
                Param("from_date", "date", "From", required=True, aliases=("fromDate",)),
                Param("to_date", "date", "To", required=True, aliases=("toDate",)),
            ),
            bounds=("from_date", "to_date"),
        ),
        Criterion(
            "transaction_percent_in_pos",
            "Share of orders in a point of sale",
            "Has counted orders and at least `percent`% of them (by count) were at that "
            "point of sale.",
            (
                Param("pos_id", "pos", "Point of sale", required=True, aliases=("posId",)),
                Param("percent", "percent", "Percent (0-100)", required=True),
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
                    "choice",
                    "Anniversary of",
                    required=True,
                    aliases=("anniversaryType",),
                    choices=ANNIVERSARY_TYPES,
                ),
                Param("days", "days", "Days", required=True),
            ),
        ),
    )
}

# Keys a client may send back (Open Loyalty's ids, a builder's own ids): ignored.
IGNORED_KEYS = frozenset(
    {"id", "criterion_id", "criterionId", "segment_part_id", "segmentPartId", "part_id"}
)

WHITESPACE = " \t\n\r\f\v"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PLAIN_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_WHOLE = re.compile(r"^[+-]?[0-9]+$")


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def is_blank(value: str) -> bool:
    return not value.strip(WHITESPACE)


# --- Errors -------------------------------------------------------------------------------


@dataclass
class _Errors:
    by_path: dict[str, list[ErrorDetail]] = field(default_factory=dict)

    def add(self, path: str, message: str, code: str) -> None:
        self.by_path.setdefault(path, []).append(ErrorDetail(message, code=code))

    def raise_if_any(self) -> None:
        if self.by_path:
            raise ValidationError(self.by_path)


class _Invalid(Exception):
    """A value that cannot be coerced: its message and error code."""

    def __init__(self, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _join(path: str, *parts: object) -> str:
    return ".".join([path, *(str(p) for p in parts)]) if path else ".".join(map(str, parts))


# --- Value coercion -----------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def parse_decimal(value: Any) -> Decimal:
    """A number or a plain decimal string (no exponent, NaN or infinity) as a Decimal."""
    if isinstance(value, bool):
        raise _Invalid("Expected a number, not a boolean.")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("Expected a finite number.")
        # A JSON number arrives as a float: read its shortest text, not its binary.
        result = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _Invalid("Expected a finite number.")
        result = value
    elif isinstance(value, str) and _PLAIN_DECIMAL.match(value.strip()):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover  (the pattern admits only decimals)
            raise _Invalid("Expected a number or a decimal string.") from None
    else:
        raise _Invalid('Expected a number or a decimal string (like 42 or "19.90").')
    digits = len(result.as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS or abs(result.adjusted()) > MAX_NUMBER_DIGITS:
        raise _Invalid(f"Numbers have at most {MAX_NUMBER_DIGITS} digits.")
    return result


def decimal_text(value: Decimal) -> str:
    """A decimal as a plain string, with two places at least (`10` -> `"10.00"`)."""
    if value.as_tuple().exponent >= -2:  # type: ignore[operator]
        value = value.quantize(Decimal("0.01"))
    text = format(value, "f")
    return "0.00" if text in ("-0.00", "-0") else text


def _money(value: Any, *, minimum: Decimal | None = None) -> str:
    number = parse_decimal(value)
    if minimum is not None and number < minimum:
        raise _Invalid(f"Must be at least {minimum}.")
    return decimal_text(number)


def _whole(value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, str) and _WHOLE.match(value.strip()):
        number = int(value.strip())
    else:
        try:
            parsed = parse_decimal(value)
        except _Invalid:
            raise _Invalid("Expected a whole number.") from None
        if parsed != parsed.to_integral_value():
            raise _Invalid("Expected a whole number.")
        number = int(parsed)
    if minimum is not None and number < minimum:
        raise _Invalid(f"Must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise _Invalid(f"Must be at most {maximum}.")
    return number


def _days(value: Any) -> int:
    return _whole(value, minimum=0, maximum=MAX_DAYS)


def _date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if _is_number(value):
        raise _Invalid(
            "Expected an ISO date (YYYY-MM-DD), not a number: relative dates are written "
            "with within_last_days or more_than_days_ago.",
            code="invalid_type",
        )
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise _Invalid("Expected an ISO date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise _Invalid("Expected an existing date (YYYY-MM-DD).") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("Expected a string.", code="invalid_type")
    if is_blank(value):
        raise _Invalid("Expected a non-blank string (use is_empty for blank values).")
    if len(value) > MAX_TEXT:
        raise _Invalid(f"At most {MAX_TEXT} characters.")
    return value


def _metadata_text(value: Any) -> str:
    """A text value of a metadata condition: a stored number or boolean is compared as
    its JSON text, so such values given in a list are read as that text too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return format(parse_decimal(value), "f")
    return _text(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid("Expected true or false.", code="invalid_type")


def _agent_id(value: Any) -> str:
    parsed = _as_uuid(value.strip()) if isinstance(value, str) else None
    if parsed is None:
        raise _Invalid("Expected an agent id (a UUID).")
    return str(parsed)


def _metadata_number(value: Any) -> int | float:
    """A metadata number value, kept a JSON number (its type selects the number
    operators)."""
    number = parse_decimal(value)
    if number == number.to_integral_value() and abs(number) < 2**63:
        return int(number)
    return float(number)


# --- Nodes --------------------------------------------------------------------------------


def _canonical_field(raw: Any) -> tuple[str, Field | None]:
    """(canonical name, its Field; None for `metadata.KEY`)."""
    if not isinstance(raw, str) or not raw.strip():
        raise _Invalid("Expected a field name.", code="unknown_field")
    name = raw.strip()
    for prefix in (METADATA_PREFIX, "custom_fields.", "customFields."):
        if name.startswith(prefix):
            key = name[len(prefix) :]
            if not key:
                raise _Invalid("Name the custom field: metadata.KEY.", code="unknown_field")
            return METADATA_PREFIX + key, None
    canonical = FIELD_ALIASES.get(name) or snake_case(name)
    canonical = FIELD_ALIASES.get(canonical, canonical)
    spec = FIELDS.get(canonical)
    if spec is None:
        raise _Invalid(
            f"Unknown field {name!r}. Fields: {', '.join(FIELDS)}, metadata.KEY.",
            code="unknown_field",
        )
    return canonical, spec


def _canonical_operator(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    key = snake_case(text).replace(" ", "_").replace("-", "_")
    key = re.sub(r"_+", "_", key)
    return OPERATOR_ALIASES.get(key, key)


def _check_keys(node: dict, allowed: Iterable[str], path: str, errors: _Errors) -> None:
    allowed = set(allowed)
    for key, value in node.items():
        if key in allowed or key in IGNORED_KEYS or value is None:
            continue
        errors.add(_join(path, key), f"Unknown key {key!r} here.", "unknown_key")


class _Validator:
    def __init__(self, account: Account | None) -> None:
        self.errors = _Errors()
        self.account = account
        # Referenced ids, checked against the account at the end (one query each).
        self.agent_refs: list[tuple[str, str]] = []
        self.pos_refs: list[tuple[str, str]] = []
        self.pos_ids: dict[str, str] = {}  # id or code -> id, once checked

    # Dispatch ------------------------------------------------------------------------

    def rule(self, node: Any, path: str, depth: int) -> dict | None:
        """`depth`: the number of groups above this node."""
        if not isinstance(node, dict):
            self.errors.add(
                path,
                "A rule is an object: a group {logic, rules}, a condition "
                "{field, operator, value} or a criterion {type, ...}.",
                "invalid_rule",
            )
            return None
        if "rules" in node or "logic" in node:
            return self.group(node, path, depth + 1)
        if "field" in node:
            return self.condition(node, path, depth)
        if "type" in node:
            return self.criterion(node, path)
        if "parts" in node:
            return self.parts(node["parts"], _join(path, "parts"), depth, node=node, path=path)
        self.errors.add(
            path,
            "Not a rule: a group has logic and rules, a condition field, operator and "
            "value, a criterion a type.",
            "invalid_rule",
        )
        return None

    def group(self, node: dict, path: str, level: int) -> dict | None:
        if level > MAX_DEPTH:
            self.errors.add(
                path,
                f"Groups nest at most {MAX_DEPTH} deep (the root group is level 1).",
                "too_deep",
            )
            return None
        _check_keys(node, ("logic", "rules"), path, self.errors)
        logic = node.get("logic")
        canonical_logic = logic.strip().upper() if isinstance(logic, str) else None
        if logic is None:
            self.errors.add(_join(path, "logic"), "A group needs a logic: AND or OR.", "required")
        elif canonical_logic not in (AND, OR):
            self.errors.add(_join(path, "logic"), "logic is AND or OR.", "invalid_logic")
        children = node.get("rules")
        rules_path = _join(path, "rules")
        if not isinstance(children, list):
            self.errors.add(
                rules_path,
                "A group's rules are a list of 1 to 50 rules.",
                "required" if children is None else "invalid_rule",
            )
            return None
        if not MIN_CHILDREN <= len(children) <= MAX_CHILDREN:
            self.errors.add(
                rules_path,
                f"A group has {MIN_CHILDREN} to {MAX_CHILDREN} rules (here {len(children)}).",
                "group_size",
            )
        normalized = [
            self.rule(child, _join(rules_path, index), level)
            for index, child in enumerate(children[:MAX_LIST])
        ]
        return {"logic": canonical_logic, "rules": normalized}

    def parts(
        self, parts: Any, parts_path: str, depth: int, *, node: dict | None, path: str
    ) -> dict | None:
        """Open Loyalty: AND over parts, OR over each part's criteria."""
        if node is not None:
            _check_keys(node, ("parts",), path, self.errors)
        if depth + 2 > MAX_DEPTH:
            self.errors.add(parts_path, f"Groups nest at most {MAX_DEPTH} deep.", "too_deep")
            return None
        if not isinstance(parts, list) or not MIN_CHILDREN <= len(parts) <= MAX_CHILDREN:
            self.errors.add(
                parts_path,
                f"parts is a list of {MIN_CHILDREN} to {MAX_CHILDREN} parts, each "
                '{"criteria": [criterion, ...]}.',
                "group_size" if isinstance(parts, list) else "invalid_rule",
            )
            if not isinstance(parts, list):
                return None
        groups = []
        for index, part in enumerate(parts[:MAX_LIST]):
            part_path = _join(parts_path, index)
            if not isinstance(part, dict):
                self.errors.add(
                    part_path, 'A part is {"criteria": [criterion, ...]}.', "invalid_rule"
                )
                continue
            _check_keys(part, ("criteria",), part_path, self.errors)
            criteria = part.get("criteria")
            criteria_path = _join(part_path, "criteria")
            if not isinstance(criteria, list) or not MIN_CHILDREN <= len(criteria) <= MAX_CHILDREN:
                self.errors.add(
                    criteria_path,
                    f"A part has {MIN_CHILDREN} to {MAX_CHILDREN} criteria.",
                    "required" if criteria is None else "group_size",
                )
                if not isinstance(criteria, list):
                    continue
            normalized = []
            for position, criterion in enumerate(criteria[:MAX_LIST]):
                criterion_path = _join(criteria_path, position)
                if not isinstance(criterion, dict) or "type" not in criterion:
                    self.errors.add(
                        criterion_path,
                        "A part's criteria are criteria: objects with a type.",
                        "invalid_rule",
                    )
                    continue
                normalized.append(self.criterion(criterion, criterion_path))
            groups.append({"logic": OR, "rules": normalized})
        return {"logic": AND, "rules": groups}

    # Conditions ----------------------------------------------------------------------

    def condition(self, node: dict, path: str, depth: int) -> dict | None:
        _check_keys(node, ("field", "operator", "value"), path, self.errors)
        field_path, operator_path, value_path = (
            _join(path, "field"),
            _join(path, "operator"),
            _join(path, "value"),
        )
        try:
            name, spec = _canonical_field(node.get("field"))
        except _Invalid as exc:
            self.errors.add(field_path, exc.message, exc.code)
            name, spec = None, None
        raw_operator = node.get("operator")
        operator = _canonical_operator(raw_operator)
        value = node.get("value")
        if raw_operator is None:
            self.errors.add(operator_path, "A condition needs an operator.", "required")
            return None
        all_operators = set(METADATA_OPERATORS) | set(DATE_OPERATORS)
        if operator not in all_operators:
            self.errors.add(
                operator_path, f"Unknown operator {raw_operator!r}.", "invalid_operator"
            )
            return None
        if name is None:
            return None
        field_type = spec.type if spec is not None else METADATA
        allowed = OPERATORS_BY_TYPE[field_type]
        if operator not in allowed:
            self.errors.add(
                operator_path,
                f"{operator!r} does not apply to {name} ({field_type}); use one of: "
                f"{', '.join(allowed)}.",
                "invalid_operator",
            )
            return None
        if operator in NO_VALUE_OPERATORS:
            if value is not None:
                self.errors.add(value_path, f"{operator} takes no value.", "invalid_value")
                return None
            return {"field": name, "operator": operator, "value": None}
        if "value" not in node or value is None:
            self.errors.add(value_path, f"{operator} needs a value.", "required")
            return None
        if spec is None:
            return self.metadata_condition(name, operator, value, operator_path, value_path)
        try:
            coerced = self.condition_value(spec, operator, value, value_path)
        except _Invalid as exc:
            self.errors.add(value_path, exc.message, exc.code)
            return None
        if coerced is _ERRORS_RECORDED:
            return None
        return {"field": name, "operator": operator, "value": coerced}

    def condition_value(self, spec: Field, operator: str, value: Any, value_path: str) -> Any:
        if spec.type == TEXT:
            if operator in LIST_OPERATORS:
                return self.list_of(value, _text, value_path)
            return _text(value)
        if spec.type == TAGS:
            if operator == "in":
                return self.list_of(value, _text, value_path)
            return _text(value)
        if spec.type == AGENT:
            if operator in LIST_OPERATORS:
                coerced = self.list_of(value, _agent_id, value_path)
                if coerced is not _ERRORS_RECORDED:
                    self.agent_refs.extend(
                        (_join(value_path, i), agent) for i, agent in enumerate(coerced)
                    )
                return coerced
            agent = _agent_id(value)
            self.agent_refs.append((value_path, agent))
            return agent
        if spec.type == BOOLEAN:
            return _boolean(value)
        if spec.type == NUMBER:
            coerce = _number_coercer(spec)
            if operator == "between":
                return self.pair(value, coerce, value_path, compare=Decimal)
            return coerce(value)
        if spec.type == DATE:
            if operator in ("within_last_days", "more_than_days_ago"):
                return _days(value)
            if operator == "between":
                return self.pair(value, _date, value_path, compare=date.fromisoformat)
            return _date(value)
        raise AssertionError(spec.type)  # pragma: no cover

    def metadata_condition(
        self, name: str, operator: str, value: Any, operator_path: str, value_path: str
    ) -> dict | None:
        number_value = _is_number(value) or (
            operator == "between" and isinstance(value, list) and any(_is_number(v) for v in value)
        )
        if operator in NUMBER_ONLY_OPERATORS or (number_value and operator in ("=", "!=")):
            try:
                if operator == "between":
                    coerced = self.pair(value, _metadata_number, value_path, compare=Decimal)
                    if coerced is _ERRORS_RECORDED:
                        return None
                else:
                    coerced = _metadata_number(value)
            except _Invalid as exc:
                self.errors.add(
                    value_path,
                    f"{operator} on a custom field takes a number. {exc.message}",
                    exc.code,
                )
                return None
            return {"field": name, "operator": operator, "value": coerced}
        if number_value:
            self.errors.add(
                operator_path,
                f"{operator!r} is a text operator; a number value selects the number "
                f"operators: {', '.join(NUMBER_OPERATORS)}.",
                "invalid_operator",
            )
            return None
        try:
            if operator in LIST_OPERATORS:
                coerced = self.list_of(value, _metadata_text, value_path)
                if coerced is _ERRORS_RECORDED:
                    return None
            elif operator in ("=", "!="):
                coerced = _metadata_text(value)
            else:
                coerced = _text(value)
        except _Invalid as exc:
            self.errors.add(value_path, exc.message, exc.code)
            return None
        return {"field": name, "operator": operator, "value": coerced}

    def list_of(self, value: Any, coerce: Any, path: str) -> Any:
        if not isinstance(value, list) or not value:
            raise _Invalid("Expected a non-empty list.", code="invalid_type")
        if len(value) > MAX_LIST:
            raise _Invalid(f"At most {MAX_LIST} values.")
        result, failed = [], False
        for index, item in enumerate(value):
            try:
                result.append(coerce(item))
            except _Invalid as exc:
                self.errors.add(_join(path, index), exc.message, exc.code)
                failed = True
        return _ERRORS_RECORDED if failed else result

    def pair(self, value: Any, coerce: Any, path: str, *, compare: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise _Invalid("between takes [low, high].", code="invalid_type")
        coerced = self.list_of(value, coerce, path)
        if coerced is _ERRORS_RECORDED:
            return coerced
        low, high = coerced
        if compare(str(low)) > compare(str(high)):
            raise _Invalid("between needs low <= high.", code="invalid_range")
        return coerced

    # Criteria ------------------------------------------------------------------------

    def criterion(self, node: dict, path: str) -> dict | None:
        raw_type = node.get("type")
        type_path = _join(path, "type")
        kind = (
            snake_case(raw_type.strip()).replace("-", "_").replace(" ", "_")
            if isinstance(raw_type, str)
            else None
        )
        spec = CRITERIA.get(kind) if kind else None
        if spec is None:
            self.errors.add(
                type_path,
                f"Unknown criterion type {raw_type!r}. Types: {', '.join(CRITERIA)}.",
                "unknown_criterion",
            )
            return None
        given: dict[str, tuple[str, Any]] = {}
        failed = False
        for key, value in node.items():
            if key == "type" or key in IGNORED_KEYS:
                continue
            name = _param_name(spec, key)
            if name is None:
                if value is not None:
                    self.errors.add(
                        _join(path, key),
                        f"{spec.type} takes no {key!r}; its parameters: "
                        f"{', '.join(p.name for p in spec.params)}.",
                        "unknown_parameter",
                    )
                    failed = True
                continue
            if name in given:
                if given[name][1] != value:
                    self.errors.add(
                        _join(path, key),
                        f"{name} is given twice ({given[name][0]} and {key}).",
                        "invalid_value",
                    )
                    failed = True
                continue
            if value is not None:
                given[name] = (key, value)
        result: dict[str, Any] = {"type": spec.type}
        for param in spec.params:
            if param.name not in given:
                if param.required:
                    self.errors.add(
                        _join(path, param.name), f"{spec.type} needs {param.name}.", "required"
                    )
                    failed = True
                continue
            key, value = given[param.name]
            try:
                result[param.name] = self.param_value(param, value, _join(path, key))
            except _Invalid as exc:
                self.errors.add(_join(path, key), exc.message, exc.code)
                failed = True
                continue
            if result[param.name] is _ERRORS_RECORDED:
                failed = True
        if failed:
            return None
        if spec.bounds is not None:
            low_name, high_name = spec.bounds
            low, high = result.get(low_name), result.get(high_name)
            if low is None and high is None:
                self.errors.add(
                    path,
                    f"{spec.type} needs at least one of {low_name} and {high_name}.",
                    "required",
                )
                return None
            if low is not None and high is not None and _ordered(low) > _ordered(high):
                self.errors.add(path, f"{low_name} must not be above {high_name}.", "invalid_range")
                return None
        return result

    def param_value(self, param: Param, value: Any, path: str) -> Any:
        if param.kind == "count":
            return _whole(value, minimum=0, maximum=2**31 - 1)
        if param.kind == "money":
            return _money(value, minimum=Decimal(0))
        if param.kind == "percent":
            number = parse_decimal(value)
            if not Decimal(0) <= number <= Decimal(100):
                raise _Invalid("percent is between 0 and 100.")
            return format(number.normalize(), "f") if number else "0"
        if param.kind == "days":
            return _days(value)
        if param.kind == "date":
            return _date(value)
        if param.kind == "choice":
            choice = value.strip().lower() if isinstance(value, str) else None
            if choice not in param.choices:
                raise _Invalid(f"{param.name} is one of: {', '.join(param.choices)}.")
            return choice
        if param.kind == "pos":
            pos = _pos_ref(value)
            self.pos_refs.append((path, pos))
            return pos
        if param.kind == "pos_list":
            if isinstance(value, str | uuid.UUID):
                value = [value]
            coerced = self.list_of(value, _pos_ref, path)
            if coerced is not _ERRORS_RECORDED:
                self.pos_refs.extend((_join(path, i), pos) for i, pos in enumerate(coerced))
            return coerced
        if param.kind == "text_list":
            if isinstance(value, str):
                value = [value]
            return self.list_of(value, _text, path)
        raise AssertionError(param.kind)  # pragma: no cover

    # Foreign ids -----------------------------------------------------------------------

    def check_references(self) -> None:
        """With an account: agent and point-of-sale references name its own rows (a
        foreign or unknown id is a 400 on that value, as everywhere in the API)."""
        if self.account is None or not (self.agent_refs or self.pos_refs):
            return
        from accounts.models import Agent
        from crm_project.tenancy import account_scope
        from orders.models import PointOfSale

        with account_scope(self.account):
            if self.agent_refs:
                known = {
                    str(pk)
                    for pk in Agent.objects.filter(
                        pk__in={ref for _, ref in self.agent_refs}
                    ).values_list("pk", flat=True)
                }
                for path, ref in self.agent_refs:
                    if ref not in known:
                        self.errors.add(path, f"No agent {ref} in this account.", "does_not_exist")
            if self.pos_refs:
                ids = {ref for _, ref in self.pos_refs if _as_uuid(ref) is not None}
                codes = {ref for _, ref in self.pos_refs if _as_uuid(ref) is None}
                rows = PointOfSale.objects.filter(pk__in=ids) | PointOfSale.objects.filter(
                    code__in=codes
                )
                for pk, code in rows.values_list("pk", "code"):
                    self.pos_ids[str(pk)] = self.pos_ids[code] = str(pk)
                for path, ref in self.pos_refs:
                    if ref not in self.pos_ids:
                        self.errors.add(
                            path, f"No point of sale {ref!r} in this account.", "does_not_exist"
                        )

    def resolve_pos_codes(self, node: Any) -> Any:
        """With an account, points of sale named by code are stored by id: the rule
        keeps meaning the same point of sale, and its SQL compares ids (which the
        orders' (account, pos) index and the planner's statistics serve best)."""
        if not self.pos_ids or not isinstance(node, dict):
            return node
        if "rules" in node:
            return {**node, "rules": [self.resolve_pos_codes(child) for child in node["rules"]]}
        if node.get("type") == "bought_in_pos":
            ids = [self.pos_ids.get(ref, ref) for ref in node["pos_ids"]]
            return {**node, "pos_ids": list(dict.fromkeys(ids))}
        if node.get("type") == "transaction_percent_in_pos":
            return {**node, "pos_id": self.pos_ids.get(node["pos_id"], node["pos_id"])}
        return node


_ERRORS_RECORDED: Any = object()  # errors already recorded at finer paths


def _number_coercer(spec: Field) -> Any:
    if spec.number_kind == COUNT:
        return _whole
    return _money


def _ordered(value: Any) -> Any:
    if isinstance(value, str) and _ISO_DATE.match(value):
        return date.fromisoformat(value)
    return Decimal(str(value))


def _param_name(spec: Criterion, key: str) -> str | None:
    for param in spec.params:
        if key == param.name or key in param.aliases or snake_case(key) == param.name:
            return param.name
        if snake_case(key) in param.aliases:
            return param.name
    return None


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _pos_ref(value: Any) -> str:
    """A point of sale: its id (a UUID) or its code."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or is_blank(value) or len(value) > 100:
        raise _Invalid("Expected a point of sale id (a UUID) or code.")
    value = value.strip()
    parsed = _as_uuid(value)
    return str(parsed) if parsed is not None else value


# --- The interface --------------------------------------------------------------------


def validate_rule(data: Any, *, attr: str = "rules", account: Account | None = None) -> dict:
    """The normalized rule of `data` (see the module docstring), or a ValidationError
    listing every problem by its dotted path under `attr`.

    `data` is a rule, `{"parts": [...]}` or a bare list of parts. Parts' paths run under
    `attr` (`parts.0.criteria.1.type` with `attr="parts"`, `rules.parts.0...` with the
    default). With `account`, agent and point-of-sale references must be its own, and
    points of sale named by code are stored by id."""
    validator = _Validator(account)
    if data is None:
        validator.errors.add(attr, "A rule is required.", "required")
        validator.errors.raise_if_any()
    if isinstance(data, list):
        result = validator.parts(data, attr, 0, node=None, path=attr)
    elif (
        isinstance(data, dict)
        and "parts" in data
        and not ({"rules", "logic", "field", "type"} & data.keys())
    ):
        parts_path = attr if attr.rsplit(".", 1)[-1] == "parts" else _join(attr, "parts")
        result = validator.parts(data["parts"], parts_path, 0, node=data, path=attr)
    else:
        result = validator.rule(data, attr, 0)
    validator.errors.raise_if_any()
    validator.check_references()
    validator.errors.raise_if_any()
    assert result is not None
    return validator.resolve_pos_codes(result)


def parts_to_rule(parts: list) -> dict:
    """Open Loyalty parts as a rule: AND over parts, OR over each part's criteria (the
    criteria as given, their ids dropped). Structure only: validate_rule validates."""
    return {
        "logic": AND,
        "rules": [
            {
                "logic": OR,
                "rules": [
                    {k: v for k, v in criterion.items() if k not in IGNORED_KEYS}
                    for criterion in part.get("criteria", [])
                ],
            }
            for part in parts
        ],
    }


# Ids of parts and criteria when no namespace (a segment id) is given.
PARTS_NAMESPACE = uuid.UUID("5d0f8f0e-52a4-4c1b-9d7c-0f3b9a6e2c11")


def _is_criterion(node: Any) -> bool:
    return isinstance(node, dict) and "type" in node and "field" not in node and "rules" not in node


def _is_group(node: Any, logic: str) -> bool:
    return (
        isinstance(node, dict)
        and node.get("logic") == logic
        and isinstance(node.get("rules"), list)
    )


def rule_to_parts(rule: Any, namespace: uuid.UUID | str | None = None) -> list | None:
    """The Open Loyalty `parts` of a normalized rule that is an AND of ORs of criteria
    (a lone criterion, an OR of criteria, or an AND whose children are criteria or ORs
    of criteria), else None. Each part and criterion carries a stable id, a uuid5 of
    `namespace` (the segment's id) and its path: `segment_part_id` / `criterion_id`, and
    `id` as everywhere in the API."""
    if _is_criterion(rule):
        clauses = [[rule]]
    elif _is_group(rule, OR) and all(_is_criterion(c) for c in rule["rules"]):
        clauses = [rule["rules"]]
    elif _is_group(rule, AND):
        clauses = []
        for child in rule["rules"]:
            if _is_criterion(child):
                clauses.append([child])
            elif _is_group(child, OR) and all(_is_criterion(c) for c in child["rules"]):
                clauses.append(child["rules"])
            else:
                return None
    else:
        return None
    if isinstance(namespace, str):
        namespace = uuid.UUID(namespace)
    base = namespace or PARTS_NAMESPACE
    parts = []
    for i, criteria in enumerate(clauses):
        part_id = str(uuid.uuid5(base, f"parts.{i}"))
        parts.append(
            {
                "id": part_id,
                "segment_part_id": part_id,
                "criteria": [
                    {
                        "id": (criterion_id := str(uuid.uuid5(base, f"parts.{i}.criteria.{j}"))),
                        "criterion_id": criterion_id,
                        **{k: v for k, v in criterion.items() if k not in IGNORED_KEYS},
                    }
                    for j, criterion in enumerate(criteria)
                ],
            }
        )
    return parts
