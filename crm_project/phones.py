"""Phone numbers in E.164, parsed in the account's default region (phonenumbers)."""

from typing import Any

import phonenumbers

# The region a national number is read in when the account names none.
DEFAULT_REGION = "US"


class InvalidPhone(ValueError):
    pass


def account_region(account: Any) -> str:
    """The region an account's national numbers are read in (its
    `default_phone_region`)."""
    return getattr(account, "default_phone_region", None) or DEFAULT_REGION


def normalize_phone(raw: str, region: str) -> str:
    """`raw` in E.164 (`+15551234567`), or InvalidPhone when it does not parse as a
    possible number of `region` (or of its own `+country` prefix). Blank stays blank."""
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, (region or DEFAULT_REGION).upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number.") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(raw: str) -> str:
    return "".join(ch for ch in raw or "" if ch.isdigit())
