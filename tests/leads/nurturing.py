"""Helpers of the nurturing tests: sequences made by leads.services, leads moved to a
state, and the ledger's nurture messages read back."""

from typing import Any

from campaigns.models import Message
from crm_project.tenancy import account_scope
from leads import services
from leads.models import Lead, LeadNurture, NurtureSequence

EMAIL_STEP = {"channel": "email", "subject": "Hi {{ first_name }}", "message": "Welcome"}


def make_sequence(account: Any, steps: list[dict] | None = None, **fields: Any) -> NurtureSequence:
    fields.setdefault("name", "Welcome")
    with account_scope(account):
        return services.sequence_create(account=account, steps=steps or [{**EMAIL_STEP}], **fields)


# The lead's nurturing fields, as columns of its place (LeadNurture).
PLACE_COLUMNS = {
    "nurture_step": "step",
    "nurture_next_at": "next_at",
    "nurture_run": "run",
    "nurture_sequence": "sequence",
}


def set_fields(account: Any, lead: Any, **fields: Any) -> None:
    """Write columns directly (states the services reach only through many steps); the
    nurturing ones go to the lead's place."""
    place = {
        PLACE_COLUMNS[name]: fields.pop(name) for name in list(fields) if name in PLACE_COLUMNS
    }
    with account_scope(account):
        if fields:
            Lead.objects.filter(pk=lead.pk).update(**fields)
        if place:
            LeadNurture.objects.update_or_create(
                account_id=account.pk, lead_id=lead.pk, defaults=place
            )


def nurture_messages(account: Any, lead: Any = None) -> list[Message]:
    with account_scope(account):
        messages = Message.objects.filter(source="nurture")
        if lead is not None:
            messages = messages.filter(lead=lead.pk)
        return list(messages.order_by("created_at", "source_key"))
