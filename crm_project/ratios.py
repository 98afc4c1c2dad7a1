"""How every figure reads a rate or an average: one rounding for the statistics, the
campaigns' stats and the reports (SPEC: rates are 0..1)."""

from decimal import ROUND_HALF_UP, Decimal

RATE_PLACES = Decimal("0.0001")
AVERAGE_PLACES = Decimal("0.01")


def ratio(part: int, whole: int) -> float:
    """part / whole in 0..1 with four places (0 for nothing to divide by). Capped at 1:
    within a window a part may count while its whole fell before it (a click whose
    delivery did)."""
    if not whole:
        return 0.0
    value = min(Decimal(part) / Decimal(whole), Decimal(1))
    return float(value.quantize(RATE_PLACES, ROUND_HALF_UP))


def average(value: Decimal | float | None) -> float | None:
    """An average with two places (None for an average over nothing)."""
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(AVERAGE_PLACES, ROUND_HALF_UP))
