"""The ledger seen by requests that carry no account: tracking links and unsubscribe
pages (a signed token names the message) and provider receipts (a signed body names
it). Only the message's account id is read across accounts; everything else happens
inside that account's scope, as any other request of the account would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from campaigns.models import Message
from crm_project.tenancy import account_scope, unscoped


def message_account_id(message_id: uuid.UUID) -> uuid.UUID | None:
    """The account of a message, across accounts (None: no such message). The one
    cross-account read, as authentication's key look-ups are."""
    with unscoped():
        return Message.objects.filter(pk=message_id).values_list("account_id", flat=True).first()


@contextmanager
def message_in_its_scope(message_id: uuid.UUID) -> Iterator[Message | None]:
    """The message, with the block running in its account's scope; None (and no scope)
    when there is no such message."""
    account_id = message_account_id(message_id)
    if account_id is None:
        yield None
        return
    with account_scope(account_id):
        yield Message.objects.select_related("account").filter(pk=message_id).first()
