"""Phone numbers in E.164, parsed in the account's default region (phonenumbers)."""

import phonenumbers


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str) -> str:
    """`raw` in E.164 (`+15551234567`), or InvalidPhone when it does not parse as a
    possible number of `region` (or of its own `+country` prefix). Blank stays blank."""
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, (region or "US").upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number.") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(raw: str) -> str:
    return "".join(ch for ch in raw or "" if ch.isdigit())
