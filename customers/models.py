from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Func, Q, TextField, Value
from django.db.models.functions import Cast, Lower

from crm_project.models import TenantForeignKey, TenantModel

# Digits of the lifetime spend column (see Customer.lifetime_spend).
SPEND_DIGITS = 33
# The account's customers, counted as they are written (crm_project.models.RowCount,
# migration 0004_count_customers).
CUSTOMER_COUNTER = "customers"


class CustomerType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    BUSINESS = "business", "Business"


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    BLOCKED = "blocked", "Blocked"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class PipesConcat(Func):
    """`a || b || ...`. Unlike Concat it adds no COALESCE (use it on NOT NULL columns):
    under row-level security PostgreSQL uses an expression index only when the clause
    is leakproof, and it counts COALESCE as leaky."""

    arg_joiner = " || "
    template = "(%(expressions)s)"
    output_field = TextField()


def full_name_lower() -> Lower:
    """lower(first_name || ' ' || last_name): the expression of the name search index;
    queries must use this very expression for PostgreSQL to use the index."""
    return Lower(
        PipesConcat(
            Cast(F("first_name"), TextField()), Value(" "), Cast(F("last_name"), TextField())
        )
    )


class Customer(TenantModel):
    number = models.BigIntegerField(editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164 when it parses")
    company = models.CharField(max_length=200, blank=True)
    type = models.CharField(
        max_length=12, choices=CustomerType.choices, default=CustomerType.INDIVIDUAL
    )
    status = models.CharField(
        max_length=10, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    gender = models.CharField(max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    date_of_birth = models.DateField(null=True, blank=True)
    street = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    zip = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    billing_address = models.TextField(blank=True)
    shipping_address = models.TextField(blank=True)
    payment_terms = models.CharField(max_length=100, blank=True)
    credit_limit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    tax_id = models.CharField(max_length=50, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    email_opt_in = models.BooleanField(default=True)
    sms_opt_in = models.BooleanField(default=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    assigned_to = TenantForeignKey(
        "accounts.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # customer_assigned_idx: most customers have no agent
    )
    # The lead this customer was converted from (a foreign key once leads land).
    source_lead = models.UUIDField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Spend aggregates over counted orders (not cancelled or refunded), maintained by
    # orders.services in the same transaction as every order write. The spend holds
    # the sum of any number of maximal orders: an account has fewer than 2**63 orders
    # (their numbers are bigints), each under 10**12, so the sum has at most 31 digits
    # before the point. The average never exceeds the largest order.
    lifetime_spend = models.DecimalField(
        max_digits=SPEND_DIGITS, decimal_places=2, default=Decimal("0.00"), editable=False
    )
    total_orders = models.IntegerField(default=0, editable=False)
    average_order_value = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, editable=False
    )
    first_order_date = models.DateTimeField(null=True, editable=False)
    last_order_date = models.DateTimeField(null=True, editable=False)
    # The counted orders of the 365 days up to `stats_day` (a day of the account's
    # timezone; its orders dated later included), as health counts them: how many and
    # their amounts. Maintained with the aggregates above; true for every day from
    # `stats_day` until `stats_until` (the day the oldest of them leaves the window;
    # none: no order to leave), after which beat computes them again (orders.tasks).
    # Lifecycle counts read them instead of every order of the account.
    # (Database defaults too: the set-based writers insert customers without them.)
    orders_365d = models.IntegerField(default=0, db_default=0, editable=False)
    spend_365d = models.DecimalField(
        max_digits=SPEND_DIGITS,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
        editable=False,
    )
    stats_day = models.DateField(null=True, editable=False)
    stats_until = models.DateField(null=True, editable=False)
    # Maintained by the loyalty app (allow-credit refusals). A customer's loyalty points
    # are their cards' balances, read from the cards (loyalty.selectors).
    refusals_count = models.IntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], name="customer_unique_number"),
            # A lead converts into one customer (leads.services.lead_convert relies on it
            # when two conversions race).
            models.UniqueConstraint(
                fields=["account", "source_lead"],
                condition=Q(source_lead__isnull=False),
                name="customer_unique_source_lead",
            ),
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_unique_external_id",
            ),
            models.UniqueConstraint(
                "account",
                Lower("email"),
                condition=~Q(email=""),
                name="customer_unique_email",
            ),
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                name="customer_credit_limit_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""), name="customer_needs_email_or_phone"
            ),
        ]
        indexes = [
            # The account statistics' unsubscribe_count (few customers unsubscribe).
            models.Index(
                fields=["account", "unsubscribed_at"],
                condition=Q(unsubscribed_at__isnull=False),
                name="customer_unsubscribed_idx",
            ),
            # Search (`?q=`): substrings of the full name and email, digits of the phone.
            GinIndex(OpClass(full_name_lower(), name="gin_trgm_ops"), name="customer_name_trgm"),
            GinIndex(OpClass(Lower("email"), name="gin_trgm_ops"), name="customer_email_trgm"),
            GinIndex(OpClass("phone", name="gin_trgm_ops"), name="customer_phone_trgm"),
            models.Index(fields=["account", "phone"], name="customer_phone_idx"),
            models.Index(fields=["account", "-created_at", "-id"], name="customer_created_idx"),
            models.Index(fields=["account", "last_name", "first_name"], name="customer_name_idx"),
            # Sorts of the client table end with the id, so that keyset pages never
            # overlap: a sortable column with wide ties needs (account, column, id) for
            # a page a million rows deep to cost what the first one does.
            models.Index(fields=["account", "lifetime_spend", "id"], name="customer_spend_idx"),
            models.Index(fields=["account", "total_orders", "id"], name="customer_orders_idx"),
            models.Index(fields=["account", "last_order_date"], name="customer_last_order_idx"),
            models.Index(fields=["account", "city", "id"], name="customer_city_idx"),
            # The status filter: blocked and inactive customers are few, and only they
            # are indexed (a new, active customer costs no entry).
            models.Index(
                fields=["account", "status"],
                condition=~Q(status="active"),
                name="customer_status_idx",
            ),
            # An agent's customers (and deleting an agent): most customers have none.
            models.Index(
                fields=["assigned_to"],
                condition=Q(assigned_to__isnull=False),
                name="customer_assigned_idx",
            ),
            # Segments: case-insensitive city, birthdays.
            models.Index(
                F("account"), Lower("city"), include=["city"], name="customer_city_lower_idx"
            ),
            models.Index(fields=["account", "date_of_birth"], name="customer_birth_idx"),
            # A customer's figures beside the id: segment criteria that join orders to
            # customers read the order count from it, and the lifecycle counts and the
            # customers report read every customer's figures from it alone (an
            # index-only scan of ~100 bytes a customer instead of the ~1 KB rows).
            models.Index(
                fields=["account", "id"],
                include=[
                    "total_orders",
                    "created_at",
                    "last_order_date",
                    "lifetime_spend",
                    "orders_365d",
                    "spend_365d",
                    "stats_day",
                    "stats_until",
                ],
                name="customer_figures_idx",
            ),
            # No plain GIN on `tags`: the list's `?tag=` (`tags @>`, whose function is not
            # leakproof) cannot use one under row-level security; segments read the
            # lowered tags' index (segments/migrations/0003). Migration 0018 dropped it.
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"#{self.number}"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class InteractionType(models.TextChoices):
    EMAIL = "email", "Email"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    SUPPORT = "support", "Support"
    PURCHASE = "purchase", "Purchase"
    NOTE = "note", "Note"
    SMS = "sms", "SMS"
    OTHER = "other", "Other"


# The types each kind of interaction takes (SPEC): customers' and leads' lists differ.
CUSTOMER_INTERACTION_TYPES = ("email", "call", "meeting", "support", "purchase", "other")
LEAD_INTERACTION_TYPES = ("call", "email", "meeting", "note", "sms", "other")


class Interaction(TenantModel):
    """A contact with a customer or with a lead (exactly one of them): one model, so
    follow-ups, statistics and the timeline read one table."""

    customer = TenantForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions"
    )
    lead = TenantForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # interaction_lead_idx
    )
    type = models.CharField(max_length=10, choices=InteractionType.choices)
    subject = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    date = models.DateTimeField()
    outcome = models.CharField(max_length=255, blank=True)
    next_action = models.CharField(max_length=255, blank=True)
    next_action_date = models.DateTimeField(null=True, blank=True)
    agent = TenantForeignKey(
        "accounts.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False, lead__isnull=True)
                | Q(customer__isnull=True, lead__isnull=False),
                name="interaction_customer_or_lead",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "customer", "-date"], name="interaction_customer_idx"),
            models.Index(
                fields=["account", "lead", "-date"],
                condition=Q(lead__isnull=False),
                name="interaction_lead_idx",
            ),
            models.Index(
                fields=["account", "next_action_date"],
                condition=Q(completed=False, next_action_date__isnull=False),
                name="interaction_due_idx",
            ),
        ]


class FollowUpStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"


class NotifyError(models.TextChoices):
    """Why a follow-up's agent was not notified."""

    NO_AGENT = "no_agent", "Unassigned: no agent to notify"
    NO_ADDRESS = "no_address", "The agent has neither an email nor a phone"


class FollowUp(TenantModel):
    """An interaction whose next action is due, for its agent to follow up: exactly one
    per interaction (the unique constraint, which customers.services.followups_process
    inserts against with ON CONFLICT DO NOTHING). Its agent is notified once through the
    campaigns ledger (`message`, source `followup`). Customers' and leads' interactions
    alike."""

    interaction = TenantForeignKey(
        Interaction,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # followup_unique_interaction serves look-ups
    )
    agent = TenantForeignKey(
        "accounts.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(help_text="The interaction's next_action_date.")
    status = models.CharField(
        max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    notified = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)
    # The notification in the ledger.
    message = TenantForeignKey(
        "campaigns.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notify_error = models.CharField(max_length=20, choices=NotifyError.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["interaction"], name="followup_unique_interaction")
        ]
        indexes = [
            # The open list, by due date.
            models.Index(
                fields=["account", "due_at", "id"],
                condition=Q(status="open"),
                name="followup_open_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"follow-up due {self.due_at:%Y-%m-%d %H:%M}"


class Lifecycle(models.TextChoices):
    """A customer's lifecycle bucket (customers.selectors: health and lifecycle)."""

    NEW = "new", "New"
    ACTIVE = "active", "Active"
    AT_RISK = "at_risk", "At risk"
    CHURNED = "churned", "Churned"
    VIP = "vip", "VIP"


class HealthThresholds(TenantModel):
    """The account's RFM quintile thresholds, as of `as_of` (the account's today when
    they were computed): health and lifecycle read a customer's quintiles from them
    instead of ranking every customer of the account on each request.

    Over the N customers with counted orders (`buyers`), the quintile of a value v is
    ceil(5 c / N), c counting the buyers whose value is at most v (at least v, for
    recency). Threshold k (1 to 4) is where that quintile passes k: the smallest
    frequency or monetary value with 5 c > k N, the largest recency with 5 c > k N. A
    customer's quintile is then 1 + the number of thresholds their value reaches, which
    is exactly ceil(5 c / N) for every buyer of the snapshot (customers.selectors)."""

    as_of = models.DateField()
    computed_at = models.DateTimeField()
    buyers = models.IntegerField()
    recency = ArrayField(models.IntegerField(), size=4, default=list)
    frequency = ArrayField(models.IntegerField(), size=4, default=list)
    monetary = ArrayField(
        models.DecimalField(max_digits=SPEND_DIGITS, decimal_places=2), size=4, default=list
    )

    class Meta:
        verbose_name_plural = "health thresholds"
        constraints = [
            models.UniqueConstraint(fields=["account"], name="health_thresholds_unique_account")
        ]

    def __str__(self) -> str:
        return f"health thresholds as of {self.as_of}"
