"""The leads app's input rules, once, for every path that writes leads (the API
serializer and bulk rows now; the import kind and pages as they land).

- Other names of the fields (seed 002's `timestamp`, `custom_fields`, `campaign_id`),
  as snake_case keys: the API matches them after its parser snake-cases a body's keys.
- A `name` split into first and last name as customers split it
  (customers.inputs.names_from_input), each part at most NAME_PART_MAX characters.
- A lead needs a name (first or last) and an email or a phone.
- With the account's `lead_consent_required`, a new lead needs seed 002's consent
  data (`consent_errors`).
- `status: converted` is set only by the conversion (leads.services.lead_convert)."""

from collections.abc import Mapping
from typing import Any

from crm_project.aliases import aliases_by_name, apply_aliases
from crm_project.errors import FieldError
from customers.inputs import names_from_input
from leads.models import NAME_PART_MAX, PHONE_MAX

__all__ = ["NAME_PART_MAX", "PHONE_MAX", "names_from_input"]

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "acquired_at": ("timestamp",),
    "attributes": ("custom_fields",),
    "campaign": ("campaign_id",),
    "assigned_to": ("agent_id", "agent"),
    "name": ("full_name",),
}
ALIASES: dict[str, str] = aliases_by_name(FIELD_ALIASES)

NAME_MAX = 2 * NAME_PART_MAX + 1

NAME_REQUIRED = "A lead needs a name (first_name or last_name)."
CONTACT_REQUIRED = "A lead needs an email or a phone."
CONVERT_ONLY = "A lead becomes converted only through POST /leads/{id}/convert/."
CONSENT_REQUIRED = "Required: this account records consent data with every lead."


def with_aliases(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each alias replaced by its field (unless the field is given too)."""
    return apply_aliases(data, ALIASES)


def _given(values: Mapping[str, Any], field: str) -> bool:
    value = values.get(field)
    return value is not None and str(value).strip() != ""


def consent_errors(values: Mapping[str, Any]) -> dict[str, list[FieldError]]:
    """The consent fields a new lead lacks, by field (seed 002): phone, both names,
    acquired_at, zip or (state and city), jornaya_lead_id or trusted_form_id."""
    errors: dict[str, list[FieldError]] = {}

    def missing(field: str, message: str = CONSENT_REQUIRED) -> None:
        errors[field] = [FieldError(message, code="required")]

    for field in ("phone", "first_name", "last_name", "acquired_at"):
        if not _given(values, field):
            missing(field)
    if not _given(values, "zip") and not (_given(values, "state") and _given(values, "city")):
        missing("zip", "Required unless state and city are given (consent data).")
        for field in ("state", "city"):
            if not _given(values, field):
                missing(field, "Required with the other unless zip is given (consent data).")
    if not _given(values, "jornaya_lead_id") and not _given(values, "trusted_form_id"):
        for field in ("jornaya_lead_id", "trusted_form_id"):
            missing(field, "Give jornaya_lead_id or trusted_form_id (consent data).")
    return errors
