"""The campaigns' stats rollup (campaigns.models.CampaignTally): whatever is written to
the ledger (messages inserted, moved through their statuses, opened, clicked,
unsubscribed from, deleted, in statements of any size), a campaign's stats are the
counts over its messages, before and after beat folds the tallies; the tallies go with
their campaign and their account."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_delete
from campaigns import selectors
from campaigns.models import (
    DELIVERED_STATUSES,
    PENDING_STATUSES,
    SENT_STATUSES,
    Campaign,
    CampaignTally,
    Message,
    MessageStatus,
)
from crm_project import rollups
from crm_project.ratios import ratio
from crm_project.tenancy import account_scope, unscoped
from tests.campaigns.ledger import customers_bulk
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

TALLIES = "campaigns.campaigntally"


def oracle(account, campaign_id):
    """The stats counted over the campaign's messages, in plain Python."""
    with account_scope(account):
        messages = list(Message.objects.filter(campaign=campaign_id))
    statuses = Counter(m.status for m in messages)
    stats = {
        "audience_size": len(messages),
        "queued": sum(statuses[s] for s in PENDING_STATUSES),
        "sent": sum(statuses[s] for s in SENT_STATUSES),
        "failed": statuses["failed"],
        "skipped": statuses["skipped"],
        "delivered": sum(statuses[s] for s in DELIVERED_STATUSES),
        "opened": sum(m.opened_at is not None for m in messages),
        "clicked": sum(m.clicked_at is not None for m in messages),
        "unsubscribed": sum(m.unsubscribed_at is not None for m in messages),
        "bounced": statuses["bounced"],
    }
    stats["ctr"] = ratio(stats["clicked"], stats["delivered"])
    return stats


def stats_of(account, campaign_ids):
    with account_scope(account):
        return selectors.campaign_stats(account, campaign_ids)


def campaign(account, name):
    with account_scope(account):
        return Campaign.objects.create(account=account, name=name, message="Hi")


def messages_for(account, campaign_, customers, status=MessageStatus.QUEUED):
    with account_scope(account):
        return Message.objects.bulk_create(
            Message(
                account=account,
                source="campaign",
                campaign=campaign_,
                customer=customer,
                channel="email",
                address=customer.email,
                status=status,
            )
            for customer in customers
        )


# One step of writing to the ledger: an UPDATE of some messages (by their position in
# the campaign), or a DELETE of some.
steps = st.lists(
    st.tuples(
        st.sampled_from(["status", "opened", "clicked", "unsubscribed", "untrack", "delete"]),
        st.sets(st.integers(0, 7), min_size=1, max_size=8),
        st.sampled_from(MessageStatus.values),
    ),
    min_size=1,
    max_size=8,
)


@given(steps=steps, fold_after=st.integers(0, 8))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_stats_are_the_ledgers_counts_after_any_writes(steps, fold_after):
    with transaction.atomic():
        account = AccountFactory()
        customers = customers_bulk(account, 8)
        first, second = campaign(account, "First"), campaign(account, "Second")
        ids = [m.pk for m in messages_for(account, first, customers)]
        messages_for(account, second, customers[:3], status=MessageStatus.DELIVERED)
        now = timezone.now()
        for n, (action, positions, status) in enumerate(steps):
            chosen = Message.objects.filter(pk__in=[ids[p] for p in positions])
            with account_scope(account):
                if action == "status":
                    chosen.update(status=status)
                elif action == "untrack":
                    chosen.update(opened_at=None, clicked_at=None, unsubscribed_at=None)
                elif action == "delete":
                    chosen.delete()
                else:
                    chosen.update(**{f"{action}_at": now + timedelta(seconds=n)})
            if n == fold_after:
                with account_scope(account):
                    rollups.rollup_compact(rollups.rollup(TALLIES), account_id=account.pk)
            assert stats_of(account, [first.pk, second.pk]) == {
                first.pk: oracle(account, first.pk),
                second.pk: oracle(account, second.pk),
            }
        transaction.set_rollback(True)


def test_a_fold_keeps_the_stats_and_leaves_one_row_per_status(account):
    customers = customers_bulk(account, 6)
    sent = campaign(account, "Sent")
    messages = messages_for(account, sent, customers)
    with account_scope(account):
        for message, status in zip(
            messages[:4], ["delivered", "opened", "clicked", "bounced"], strict=True
        ):
            Message.objects.filter(pk=message.pk).update(status=status)
        Message.objects.filter(pk=messages[2].pk).update(
            opened_at=timezone.now(), clicked_at=timezone.now()
        )
        before = stats_of(account, [sent.pk])
        read, written = rollups.rollup_compact(rollups.rollup(TALLIES), account_id=account.pk)
        assert read > written > 0
        statuses = list(CampaignTally.objects.values_list("status", flat=True))
        assert sorted(statuses) == sorted(set(statuses))  # one row per status
        assert rollups.rollup_compact(rollups.rollup(TALLIES), account_id=account.pk) == (0, 0)
    assert stats_of(account, [sent.pk]) == before == {sent.pk: oracle(account, sent.pk)}
    assert before[sent.pk]["delivered"] == 3
    assert before[sent.pk]["bounced"] == 1
    assert before[sent.pk]["queued"] == 2


def test_messages_of_no_campaign_are_not_tallied(account):
    customers = customers_bulk(account, 2)
    with account_scope(account):
        Message.objects.create(
            account=account, source="feedback", customer=customers[0], channel="email",
            address=customers[0].email, status="delivered",
        )  # fmt: skip
        assert not CampaignTally.objects.exists()


def test_tallies_go_with_their_campaign_and_their_account(account):
    customers = customers_bulk(account, 3)
    gone, kept = campaign(account, "Gone"), campaign(account, "Kept")
    messages_for(account, gone, customers)
    messages_for(account, kept, customers[:1])
    with account_scope(account):
        Campaign.objects.get(pk=gone.pk).delete()
        assert set(CampaignTally.objects.values_list("campaign_id", flat=True)) == {kept.pk}
    assert stats_of(account, [kept.pk])[kept.pk]["audience_size"] == 1
    with unscoped():
        account_delete(account=account)
    with unscoped(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_campaigntally")
        assert cursor.fetchone()[0] == 0


def test_another_accounts_campaign_reads_as_zeros(account, other_account):
    customers = customers_bulk(account, 2)
    mine = campaign(account, "Mine")
    messages_for(account, mine, customers)
    assert stats_of(other_account, [mine.pk])[mine.pk]["audience_size"] == 0
    assert stats_of(account, [mine.pk])[mine.pk]["audience_size"] == 2


@pytest.mark.django_db(transaction=True)
def test_deleting_a_campaign_with_messages_commits():
    # Django deletes the campaign before its messages: their tallies must not name it
    # when the deferred foreign keys are checked at commit.
    account = AccountFactory()
    customers = customers_bulk(account, 3)
    gone = campaign(account, "Gone")
    messages_for(account, gone, customers)
    with transaction.atomic(), account_scope(account):
        Campaign.objects.get(pk=gone.pk).delete()
    with account_scope(account):
        assert not Message.objects.filter(campaign=gone.pk).exists()
        assert not CampaignTally.objects.exists()
