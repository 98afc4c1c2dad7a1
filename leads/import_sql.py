# ruff: noqa: S608  (SQL over the engine's chunk table; values are parameters)
"""The set-based SQL the import engine (imports/, the `leads` kind) applies to a chunk
of lead rows: the rules leads/inputs.py, leads/services.py and the lead serializer
apply to one lead at a time, for thousands per statement. A change to a rule there is
made here too.

- `name` fills first_name / last_name as the API does (the customers' split,
  customers.import_sql); each part is at most NAME_PART_MAX (250) characters.
- A new lead needs a name (first or last) and an email or a phone
  (`_require_name_and_contact`, and the table's check constraints).
- With the account's `lead_consent_required`, a new lead needs seed 002's consent data:
  each missing field is its own reason, with leads.inputs.consent_errors' message.
- `status: converted` is refused unless the lead it updates is converted already
  (`_refuse_converted_status`); a `campaign` must be one of the account's.

The statements work over the engine's chunk table `imp_chunk` (alias `ch`): one row
per file row, typed values `v_<field>`, errors `errs` (`field<TAB>message` entries)."""

from accounts.models import Account
from campaigns.models import Campaign
from customers import import_sql as customer_writes
from leads import inputs
from leads.models import NAME_PART_MAX, Lead, LeadStatus

_ACCOUNT = Account._meta.db_table
_LEAD = Lead._meta.db_table
_CAMPAIGN = Campaign._meta.db_table

# Run in order on each chunk, after typing.
DERIVE = (
    customer_writes.NAME_SPLIT,
    f"""
    UPDATE imp_chunk ch
       SET errs = errs
           || ('name' || E'\\t' || 'Each part of the name is at most {NAME_PART_MAX} characters.')
     WHERE ch.v_name IS NOT NULL
       AND (length(ch.v_first_name) > {NAME_PART_MAX} OR length(ch.v_last_name) > {NAME_PART_MAX})
    """,
)


def _given(field: str) -> str:
    """SQL: the row gives `field` (a text blank is not given)."""
    if field == "acquired_at":
        return f"ch.v_{field} IS NOT NULL"
    return f"coalesce(ch.v_{field}, '') <> ''"


# Whether the job's account records consent data (evaluated once per statement).
_CONSENT_OFF = (
    f"NOT coalesce((SELECT a.lead_consent_required FROM {_ACCOUNT} a "
    "WHERE a.id = %(account)s::uuid), FALSE)"
)


def _consent_checks() -> tuple[tuple[str, str, str], ...]:
    """One (condition, message, field) per field consent_errors can name, its message
    taken from consent_errors itself (which names every field for an empty lead)."""
    messages = {name: errors[0].message for name, errors in inputs.consent_errors({}).items()}
    location = f"({_given('zip')} OR ({_given('state')} AND {_given('city')}))"
    conditions = {
        "phone": _given("phone"),
        "first_name": _given("first_name"),
        "last_name": _given("last_name"),
        "acquired_at": _given("acquired_at"),
        "zip": location,
        "state": f"({location} OR {_given('state')})",
        "city": f"({location} OR {_given('city')})",
        "jornaya_lead_id": f"({_given('jornaya_lead_id')} OR {_given('trusted_form_id')})",
        "trusted_form_id": f"({_given('jornaya_lead_id')} OR {_given('trusted_form_id')})",
    }
    assert set(conditions) == set(messages), "leads.inputs.consent_errors names other fields"
    return tuple(
        (f"({_CONSENT_OFF} OR {conditions[name]})", messages[name], name) for name in messages
    )


# (SQL over `ch`, message[, field]): checked on the rows that would create a lead.
CREATE_CHECKS: tuple[tuple[str, ...], ...] = (
    (f"({_given('first_name')} OR {_given('last_name')})", inputs.NAME_REQUIRED),
    (f"({_given('email')} OR {_given('phone')})", inputs.CONTACT_REQUIRED),
    *_consent_checks(),
)

# (SQL over `ch`, message, field): checked on every row once matched.
CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        f"ch.v_status IS DISTINCT FROM '{LeadStatus.CONVERTED.value}' OR EXISTS ("
        f"SELECT 1 FROM {_LEAD} t WHERE t.account_id = %(account)s::uuid "
        f"AND t.id = ch.target_id AND t.status = '{LeadStatus.CONVERTED.value}')",
        inputs.CONVERT_ONLY,
        "status",
    ),
    (
        f"ch.v_campaign IS NULL OR EXISTS (SELECT 1 FROM {_CAMPAIGN} c "
        "WHERE c.account_id = %(account)s::uuid AND c.id = ch.v_campaign)",
        "No campaign of the account has this id.",
        "campaign",
    ),
)
