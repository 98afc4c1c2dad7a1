"""Datetimes as every input reads them (SPEC: API conventions): ISO 8601 with or without
an offset, or seed 002's `MM-dd-yyyy HH:mm[:ss]`; without an offset the value is in the
account's timezone, and a bare date means 00:00 there.

One parser for bodies (crm_project.api.fields.DateTimeField), query filters and pages.
It answers the instant in UTC, and refuses one that falls before year 1 or after 9999
once its offset or the account's timezone is applied: PostgreSQL would store such a
value (it counts years BC and past 9999), and every later read of the row would fail
in Python."""

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

DEFAULT_TIMEZONE = "UTC"

INVALID = "Enter a date (YYYY-MM-DD) or an ISO 8601 datetime."
OUT_OF_RANGE = (
    "This datetime falls outside the years 1 to 9999 (in UTC or in the account's timezone)."
)

_SEED_DATETIME = re.compile(
    r"^(?P<m>\d{1,2})-(?P<d>\d{1,2})-(?P<y>\d{4})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)
# In a query string an unencoded `+` of an offset arrives as a space.
_SPACED_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


class InvalidDateTime(ValueError):
    """Not a datetime (`code` "invalid") or out of the representable range
    ("out_of_range")."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def account_zone(account: Any) -> ZoneInfo:
    """The account's timezone (UTC without an account)."""
    return ZoneInfo(getattr(account, "timezone", None) or DEFAULT_TIMEZONE)


def account_today(account: Any, now: datetime | None = None) -> date:
    """Today in the account's timezone (SPEC: "today" in any rule)."""
    return (now or timezone.now()).astimezone(account_zone(account)).date()


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _parse(text: str, zone: tzinfo) -> tuple[datetime | None, bool]:
    match = _SEED_DATETIME.match(text)
    if match:
        try:
            moment = datetime(
                int(match["y"]),
                int(match["m"]),
                int(match["d"]),
                int(match["H"] or 0),
                int(match["M"] or 0),
                int(match["S"] or 0),
            )
        except ValueError:
            return None, False
        return moment.replace(tzinfo=zone), match["H"] is None
    if len(text) <= 10:
        try:
            day = parse_date(text)
        except ValueError:  # well formed, not a date (2024-02-30)
            return None, False
        if day is not None:
            return _local_midnight(day, zone), True
    if "T" in text:
        text = _SPACED_OFFSET.sub(r"+\1", text)
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None, False
    if moment is None:
        return None, False
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)), False


def in_range(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` (aware) in UTC; InvalidDateTime when it, or its time in `zone`, falls
    outside the years 1 to 9999."""
    try:
        moment.astimezone(zone)
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidDateTime(OUT_OF_RANGE, code="out_of_range") from None


def next_local_midnight(moment: datetime, zone: tzinfo) -> datetime | None:
    """00:00 of the day after `moment`'s day in `zone` (the end of a bare date's day,
    whatever the DST change that day); None after 9999-12-31."""
    try:
        return _local_midnight(moment.astimezone(zone).date() + timedelta(days=1), zone)
    except OverflowError:
        return None


def parse_account_datetime(value: Any, zone: tzinfo) -> tuple[datetime, bool]:
    """(the instant in UTC, whether the value was a bare date) of a text input read in
    `zone`; InvalidDateTime when it is not a datetime or falls out of range."""
    if isinstance(value, datetime):
        moment, is_date = (value if value.tzinfo else value.replace(tzinfo=zone)), False
    elif isinstance(value, str):
        parsed, is_date = _parse(value.strip(), zone)
        if parsed is None:
            raise InvalidDateTime(INVALID, code="invalid")
        moment = parsed
    else:
        raise InvalidDateTime(INVALID, code="invalid")
    return in_range(moment, zone), is_date
