"""Helpers of the nurturing tests: sequences made by leads.services, leads moved to a
state, and the ledger's nurture messages read back."""

from typing import Any

from campaigns.models import Message
from crm_project.tenancy import account_scope
from leads import services
from leads.models import Lead, NurtureSequence

EMAIL_STEP = {"channel": "email", "subject": "Hi {{ first_name }}", "message": "Welcome"}


def make_sequence(account: Any, steps: list[dict] | None = None, **fields: Any) -> NurtureSequence:
    fields.setdefault("name", "Welcome")
    with account_scope(account):
        return services.sequence_create(account=account, steps=steps or [{**EMAIL_STEP}], **fields)


def set_fields(account: Any, lead: Any, **fields: Any) -> None:
    """Write columns directly (states the services reach only through many steps)."""
    with account_scope(account):
        Lead.objects.filter(pk=lead.pk).update(**fields)


def nurture_messages(account: Any, lead: Any = None) -> list[Message]:
    with account_scope(account):
        messages = Message.objects.filter(source="nurture")
        if lead is not None:
            messages = messages.filter(lead=lead.pk)
        return list(messages.order_by("created_at", "source_key"))
