"""Loyalty cards and their points ledger.

The ledger is the truth: every change of a card's balance appends one
LoyaltyTransaction, written by the same statement that moves the balance
(loyalty.services), so a card's rows chain (`balance_after` = the previous row's
`balance_after` + `points`). Rows are never updated or deleted: a trigger refuses both
(migration 0001). Cards and customers that have ledger rows are therefore kept from
deletion (RESTRICT: a customer holding a card is refused, 409 through
customers.services.customer_delete); an order is referred to by its id only, so
deleting one that earned appends its `reverse` row and the history stays. Only an
account's own purge deletes ledger rows, its cascade reaching card, customer and ledger
alike."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm_project.models import TenantForeignKey, TenantModel

POINTS_DIGITS = 14  # decimal(14, 2), like money
ZERO = Decimal("0.00")


class CardStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"


class TransactionKind(models.TextChoices):
    EARN = "earn", "Earn"  # an order reached completed or delivered
    CREDIT = "credit", "Credit"  # a ticket credited through the API
    REDEEM = "redeem", "Redeem"
    ADJUST = "adjust", "Adjust"
    EXPIRE = "expire", "Expire"
    REVERSE = "reverse", "Reverse"  # an order that earned was cancelled, refunded or deleted


class LoyaltyCard(TenantModel):
    """A customer's card. `points_balance` and `points_earned` are maintained by
    loyalty.services only, in the statement that appends the ledger row."""

    number = models.CharField(max_length=50)
    customer = TenantForeignKey(
        "customers.Customer",
        on_delete=models.RESTRICT,
        related_name="loyalty_cards",
        db_index=False,  # (customer, issued_at) below serves it
    )
    status = models.CharField(max_length=10, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    issued_at = models.DateTimeField(default=timezone.now)
    points_balance = models.DecimalField(
        max_digits=POINTS_DIGITS, decimal_places=2, default=ZERO, editable=False
    )
    points_earned = models.DecimalField(
        max_digits=POINTS_DIGITS, decimal_places=2, default=ZERO, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], name="loyaltycard_unique_number"),
            models.CheckConstraint(
                condition=Q(points_balance__gte=0), name="loyaltycard_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(points_earned__gte=0), name="loyaltycard_earned_not_negative"
            ),
        ]
        indexes = [
            # A customer's oldest active card (order earning), and their cards' sum.
            models.Index(fields=["customer", "issued_at"], name="loyaltycard_customer_issued"),
            # The /loyalty/ page's cards, newest issued first (keyset pages).
            models.Index(
                fields=["account", "-issued_at", "-id"], name="loyaltycard_account_issued"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class LoyaltyTransaction(TenantModel):
    """One row of the append-only points ledger. `points` is signed (negative for
    redeem, expire, reverse and a negative adjust); `shortfall` is what a reverse could
    not take back because the points were already spent."""

    # No single-column indexes: the (card|customer, -created_at, -id) ones serve them.
    card = TenantForeignKey(
        LoyaltyCard, on_delete=models.RESTRICT, related_name="transactions", db_index=False
    )
    customer = TenantForeignKey(
        "customers.Customer", on_delete=models.RESTRICT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=10, choices=TransactionKind.choices)
    points = models.DecimalField(max_digits=POINTS_DIGITS, decimal_places=2)
    balance_after = models.DecimalField(max_digits=POINTS_DIGITS, decimal_places=2)
    ticket_id = models.CharField(max_length=100, null=True, blank=True)
    # The order's id, not a foreign key: the row outlives a deleted order (whose
    # deletion appended the `reverse` row), as a ledger must.
    order = models.UUIDField(null=True, blank=True, db_column="order_id")
    reason = models.CharField(max_length=500, blank=True)
    shortfall = models.DecimalField(max_digits=POINTS_DIGITS, decimal_places=2, default=ZERO)
    # Written by the database at insert (clock_timestamp()), after the card row is
    # locked: a card's rows are in the order their balances moved.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "ticket_id"],
                condition=Q(ticket_id__isnull=False),
                name="loyaltytransaction_unique_ticket",
            ),
            models.UniqueConstraint(
                fields=["account", "order", "kind"],
                condition=Q(order__isnull=False, kind__in=["earn", "reverse"]),
                name="loyaltytransaction_unique_order_kind",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="loyaltytransaction_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(shortfall__gte=0), name="loyaltytransaction_shortfall_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in TransactionKind]),
                name="loyaltytransaction_kind_valid",
            ),
        ]
        indexes = [
            # The ledger's keyset pages, newest first (RLS adds account_id = ...).
            models.Index(
                fields=["account", "-created_at", "-id"], name="loyaltytx_account_created"
            ),
            models.Index(fields=["card", "-created_at", "-id"], name="loyaltytx_card_created"),
            models.Index(
                fields=["customer", "-created_at", "-id"], name="loyaltytx_customer_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points}"


class LoyaltyLevel(TenantModel):
    """A tier of the program (seed 003's levels): a customer is at the highest level
    whose `min_points` their lifetime earned points reach, and earns at its
    `earn_multiplier` (1 without a level)."""

    name = models.CharField(max_length=100)
    min_points = models.DecimalField(max_digits=POINTS_DIGITS, decimal_places=2, default=ZERO)
    earn_multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.00"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="loyaltylevel_unique_name"),
            # Two levels at one threshold would make a customer's level ambiguous.
            models.UniqueConstraint(
                fields=["account", "min_points"], name="loyaltylevel_unique_min_points"
            ),
            models.CheckConstraint(
                condition=Q(min_points__gte=0), name="loyaltylevel_min_points_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gt=0) & Q(earn_multiplier__lte=100),
                name="loyaltylevel_multiplier_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CreditStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    GRANTED = "granted", "Granted"  # the credit was given: it no longer holds the limit
    CANCELLED = "cancelled", "Cancelled"


class CreditRequest(TenantModel):
    """Credit a customer was allowed to take (seed 001's allow-credit). Scheduled
    requests hold part of the customer's `credit_limit` until granted or cancelled."""

    customer = TenantForeignKey(
        "customers.Customer",
        on_delete=models.RESTRICT,
        related_name="credit_requests",
        db_index=False,  # (customer, status) below serves it
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    date = models.DateField()
    status = models.CharField(
        max_length=10, choices=CreditStatus.choices, default=CreditStatus.SCHEDULED
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditrequest_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CreditStatus]),
                name="creditrequest_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="creditrequest_customer_status"),
            models.Index(fields=["account", "-created_at", "-id"], name="creditrequest_created"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.date}"


class LoyaltyDay(TenantModel):
    """The ledger's rows of a UTC day and kind: how many and their points' sum. The
    dashboard's points earned and redeemed sum these rows instead of reading millions of
    ledger rows (loyalty.selectors.loyalty_summary).

    Written only by the ledger's statement-level triggers (migration 0004): each insert
    (and a maintenance purge's delete) appends its net change as rows here, in the
    writer's transaction and without locking a shared row; crm_project.rollups folds
    each group's rows into one every few minutes (beat)."""

    day = models.DateField()
    kind = models.CharField(max_length=10, choices=TransactionKind.choices)
    rows = models.BigIntegerField()
    points = models.DecimalField(max_digits=30, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["account", "day"], name="loyaltyday_report_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.points}"
