"""Loyalty cards and their points ledger.

The ledger is the truth: every change of a card's balance appends one
LoyaltyTransaction, written by the same statement that moves the balance
(loyalty.services), so a card's rows chain (`balance_after` = the previous row's
`balance_after` + `points`). Rows are never updated or deleted: a trigger refuses both
(migration 0001). Cards, customers and orders that have ledger rows are therefore
kept from deletion (RESTRICT: a customer holding a card is refused, 409 through
customers.services.customer_delete); only an account's own purge deletes them, its
cascade reaching card, customer and ledger alike."""

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
    order = TenantForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
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
