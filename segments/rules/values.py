"""Coercion of the values of a rule to their normalized form: money and decimals as
decimal strings (`"1630.50"`, two places at least), counts and days as ints, dates as
`"YYYY-MM-DD"`, agents and points of sale as UUID strings (or codes). Each function
answers the value or raises Invalid."""

import math
import re
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Context, Decimal
from typing import Any

from segments.rules.errors import Invalid
from segments.rules.vocabulary import (
    MAX_DAYS,
    MAX_NUMBER_DIGITS,
    MAX_REFERENCE,
    MAX_TEXT,
    MAX_VALUES,
    WHITESPACE,
)

_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[+-]?[0-9]+")
MAX_COUNT = 2**31 - 1  # an integer column


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def is_blank(value: str) -> bool:
    return not value.strip(WHITESPACE)


def as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def parse_decimal(value: Any) -> Decimal:
    """A number or a plain decimal string (no exponent, NaN or infinity) as a Decimal."""
    if isinstance(value, bool):
        raise Invalid("Expected a number, not a boolean.")
    if isinstance(value, int):
        if value.bit_length() > 4 * MAX_NUMBER_DIGITS:  # before Decimal() spells it out
            raise Invalid(f"Numbers have at most {MAX_NUMBER_DIGITS} digits.")
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("Expected a finite number.")
        # A JSON number arrives as a float: read its shortest text, not its binary.
        result = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise Invalid("Expected a finite number.")
        result = value
    elif isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value.strip()):
        result = Decimal(value.strip())
    else:
        raise Invalid('Expected a number or a decimal string (like 42 or "19.90").')
    digits = len(result.as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS or abs(result.adjusted()) > MAX_NUMBER_DIGITS:
        raise Invalid(f"Numbers have at most {MAX_NUMBER_DIGITS} digits.")
    return result


# Holds every digit parse_decimal lets through, and two more places: exact arithmetic
# (the default context rounds at 28 digits).
EXACT = Context(prec=MAX_NUMBER_DIGITS + 2)


def decimal_text(value: Decimal) -> str:
    """A decimal as a plain string, with two places at least (`10` -> `"10.00"`)."""
    if value.as_tuple().exponent >= -2:  # type: ignore[operator]
        value = value.quantize(Decimal("0.01"), context=EXACT)
    text = format(value, "f")
    return "0.00" if text in ("-0.00", "-0") else text


def money(value: Any) -> str:
    number = parse_decimal(value)
    if number < 0:
        raise Invalid("Must be at least 0.")
    return decimal_text(number)


def decimal_string(value: Any) -> str:
    """The value of a money or decimal field (compared, so any sign)."""
    return decimal_text(parse_decimal(value))


def whole(value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        if len(value.strip()) > MAX_NUMBER_DIGITS:
            raise Invalid(f"Numbers have at most {MAX_NUMBER_DIGITS} digits.")
        number = int(value.strip())
    else:
        try:
            parsed = parse_decimal(value)
        except Invalid:
            raise Invalid("Expected a whole number.") from None
        if parsed != parsed.to_integral_value():
            raise Invalid("Expected a whole number.")
        number = int(parsed)
    if minimum is not None and number < minimum:
        raise Invalid(f"Must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise Invalid(f"Must be at most {maximum}.")
    return number


def count(value: Any) -> int:
    """A criterion's number of orders."""
    return whole(value, minimum=0, maximum=MAX_COUNT)


def days(value: Any) -> int:
    return whole(value, minimum=0, maximum=MAX_DAYS)


def percent(value: Any) -> str:
    """0 to 100, with the decimals given, exactly (`33.330` -> `"33.33"`, `100`)."""
    number = parse_decimal(value)
    if not 0 <= number <= 100:
        raise Invalid("percent is between 0 and 100.")
    if not number:
        return "0"
    return format(number.normalize(EXACT), "f")  # trailing zeros dropped, exactly


def iso_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if is_number(value):
        raise Invalid(
            "Expected an ISO date (YYYY-MM-DD), not a number: relative dates are written "
            "with within_last_days or more_than_days_ago.",
            code="invalid_type",
        )
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise Invalid("Expected an ISO date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise Invalid("Expected an existing date (YYYY-MM-DD).") from None


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("Expected a string.", code="invalid_type")
    if is_blank(value):
        raise Invalid("Expected a non-blank string (use is_empty for blank values).")
    if len(value) > MAX_TEXT:
        raise Invalid(f"At most {MAX_TEXT} characters.")
    return value


def metadata_text(value: Any) -> str:
    """A text value of a metadata condition: a stored number or boolean is compared as
    its JSON text, so such values given in a list are read as that text too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format(parse_decimal(value), "f")
    return text(value)


def metadata_number(value: Any) -> int | float:
    """A metadata number value, kept a JSON number (its type selects the number
    operators)."""
    number = parse_decimal(value)
    if number == number.to_integral_value() and abs(number) < 2**63:
        return int(number)
    return float(number)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Invalid("Expected true or false.", code="invalid_type")


def agent_id(value: Any) -> str:
    parsed = as_uuid(value.strip()) if isinstance(value, str) else None
    if parsed is None:
        raise Invalid("Expected an agent id (a UUID).")
    return str(parsed)


def pos_ref(value: Any) -> str:
    """A point of sale: its id (a UUID) or its code."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or is_blank(value) or len(value) > MAX_REFERENCE:
        raise Invalid("Expected a point of sale id (a UUID) or code.")
    value = value.strip()
    parsed = as_uuid(value)
    return str(parsed) if parsed is not None else value


def list_of(value: Any, coerce: Callable[[Any], Any]) -> list[Any]:
    """A non-empty list of at most MAX_VALUES values, each coerced; the problems of
    bad items are reported at their indexes."""
    if not isinstance(value, list) or not value:
        raise Invalid("Expected a non-empty list.", code="invalid_type")
    if len(value) > MAX_VALUES:
        raise Invalid(f"At most {MAX_VALUES} values (here {len(value)}).", code="too_many_values")
    result, problems = [], {}
    for index, item in enumerate(value):
        try:
            result.append(coerce(item))
        except Invalid as exc:
            problems[index] = exc
    if problems:
        raise Invalid.in_items(problems)
    return result


def pair(value: Any, coerce: Callable[[Any], Any]) -> list[Any]:
    """`between`'s [low, high], low <= high."""
    if not isinstance(value, list) or len(value) != 2:
        raise Invalid("between takes [low, high].", code="invalid_type")
    low, high = list_of(value, coerce)
    if ordered(low) > ordered(high):
        raise Invalid("between needs low <= high.", code="invalid_range")
    return [low, high]


def ordered(value: Any) -> Decimal | date:
    """A normalized bound (a date, or a number of any kind) as it compares."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)
    return Decimal(str(value))
