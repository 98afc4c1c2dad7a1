"""Loyalty's API shapes: cards, tickets to credit, redeem and adjust requests, and
ledger rows. Points are decimal strings with two places, like money."""

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm_project.aliases import aliases_by_name, apply_aliases
from crm_project.api.fields import DateTimeField, ModelSerializer, MoneyField
from customers import selectors as customer_selectors
from loyalty.models import CreditRequest, LoyaltyCard, LoyaltyLevel, LoyaltyTransaction
from orders.api.serializers import CustomerReferenceField

# Seed 001's ticket keys (`carteFid`, `Montant`, read as snake_case by the parser).
TICKET_ALIASES = aliases_by_name({"card_number": ("carte_fid",), "amount": ("montant",)})


class CardNumberField(serializers.CharField):
    """A card number: text, or a JSON number taken as its text (seed 001 sends
    `"carteFid": 33`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 50)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if isinstance(data, float) and data.is_integer() and abs(data) < 2**53:
            data = int(data)
        return super().to_internal_value(str(data))


class LoyaltyCardSerializer(ModelSerializer):
    """A card. `number` and `customer` are set at issue and never change; the status
    changes through `block` / `unblock` (or `status` in an update); balances are
    maintained by the ledger."""

    number = CardNumberField()
    customer = CustomerReferenceField(help_text="The holder: their id or number.")

    class Meta:
        model = LoyaltyCard
        fields = [
            "id",
            "number",
            "customer",
            "status",
            "issued_at",
            "points_balance",
            "points_earned",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["points_balance", "points_earned", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            errors = {}
            if "number" in attrs and attrs["number"] != self.instance.number:
                errors["number"] = "A card's number cannot change: issue a new card."
            if "customer" in attrs and attrs["customer"].pk != self.instance.customer_id:
                errors["customer"] = "A card's holder cannot change: issue a new card."
            if "issued_at" in attrs and attrs["issued_at"] != self.instance.issued_at:
                errors["issued_at"] = "A card's issue date cannot change."
            if errors:
                raise serializers.ValidationError(errors, code="read_only")
        return attrs


class TicketInputSerializer(serializers.Serializer):
    """One ticket to credit: `card_number` (alias `carteFid`), `amount` (alias
    `Montant`), and an optional `ticket_id` that makes replays credit nothing."""

    card_number = CardNumberField()
    amount = MoneyField()
    ticket_id = CardNumberField(max_length=100, required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = apply_aliases(data, TICKET_ALIASES)
        return super().to_internal_value(data)


class CreditBodySerializer(serializers.Serializer):
    """The body of a credit call, as the schema shows it. Each ticket is an object
    read as TicketSerializer reads it (`card_number` or `carteFid`, `amount` or
    `Montant`, `ticket_id`?) and answered on its own: a bad ticket is a `failed`
    outcome, not a 400, so the schema does not refuse it."""

    tickets = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=1000,
        help_text='Tickets: `{"card_number", "amount", "ticket_id"?}` each.',
    )


class TicketErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class TicketOutcomeSerializer(serializers.Serializer):
    card_number = serializers.CharField()
    ticket_id = serializers.CharField(allow_null=True)
    credited = MoneyField()
    balance = MoneyField(allow_null=True)
    status = serializers.ChoiceField(choices=["credited", "duplicate", "failed"])
    error = TicketErrorSerializer(allow_null=True)


class CreditAnswerSerializer(serializers.Serializer):
    card_number = serializers.CharField()
    credit = MoneyField()


class RedeemSerializer(serializers.Serializer):
    card_number = CardNumberField()
    points = MoneyField()
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AdjustSerializer(serializers.Serializer):
    card_number = CardNumberField()
    points = MoneyField(help_text="Signed: negative takes points off.")
    reason = serializers.CharField(max_length=500)


class LoyaltyTransactionSerializer(ModelSerializer):
    """A ledger row; `card` is the card's number."""

    card = serializers.CharField(source="card.number", read_only=True)

    class Meta:
        model = LoyaltyTransaction
        fields = [
            "id",
            "card",
            "customer",
            "kind",
            "points",
            "balance_after",
            "shortfall",
            "ticket_id",
            "order",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class LoyaltyLevelSerializer(ModelSerializer):
    """A level: customers whose lifetime earned points reach `min_points` (and no
    higher level's) are at it, and earn at `earn_multiplier`."""

    min_points = MoneyField(min_value=0)
    earn_multiplier = MoneyField(max_digits=6, min_value=Decimal("0.01"), max_value=100)

    class Meta:
        model = LoyaltyLevel
        fields = ["id", "name", "min_points", "earn_multiplier", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list = []


@extend_schema_field(OpenApiTypes.STR)
class HolderField(serializers.Field):
    """A customer of the account by id, per-account number or external_id; another
    account's, or none, is a 400 on the field."""

    default_error_messages = {
        "invalid": "Give a customer id, number or external_id.",
        "does_not_exist": "Customer not found.",
    }

    def to_representation(self, value: Any) -> str:
        return str(value.pk if hasattr(value, "pk") else value)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str | int) or not str(data).strip():
            self.fail("invalid")
        customer = customer_selectors.customer_by_any_ref(self.context["account"], str(data))
        if customer is None:
            self.fail("does_not_exist")
        return customer


# Seed 001's allow-credit keys (`idClient`, `Montant`, `Date`, read as snake_case).
ALLOW_CREDIT_ALIASES = aliases_by_name({"customer": ("id_client",), "amount": ("montant",)})


class AllowCreditSerializer(serializers.Serializer):
    """`customer` (alias `idClient`), `amount` (alias `Montant`; zero or less is a
    refusal, not a 400), `date` (alias `Date`; default today in the account's
    timezone)."""

    customer = HolderField()
    amount = MoneyField()
    date = serializers.DateField(required=False, allow_null=True, default=None)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = apply_aliases(data, ALLOW_CREDIT_ALIASES)
        return super().to_internal_value(data)


class CreditRequestSerializer(ModelSerializer):
    """A credit the customer was allowed; `status` moves once from scheduled to granted
    or cancelled (PATCH)."""

    customer = serializers.UUIDField(source="customer_id", read_only=True)

    class Meta:
        model = CreditRequest
        fields = ["id", "customer", "amount", "date", "status", "created_at", "updated_at"]
        read_only_fields = ["amount", "date", "created_at", "updated_at"]


class CreditDecisionSerializer(serializers.Serializer):
    customer = serializers.UUIDField(source="customer.pk")
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    credit_request = CreditRequestSerializer(allow_null=True)


class TicketArticleSerializer(serializers.Serializer):
    """An order's line as seed 001's ticket article."""

    sku = serializers.CharField()
    price_before = MoneyField(source="price_before_discount")
    price_after = MoneyField(source="line_total")
    promo = MoneyField(source="discount_percent", max_digits=5)
    quantity = serializers.IntegerField()


class TicketSerializer(serializers.Serializer):
    """An order as seed 001's ticket: `id` is the order's number, `price` its amount,
    `origin` its channel, `loyalty_points` what it earned net of any reversal."""

    id = serializers.IntegerField(source="number")
    order = serializers.UUIDField(source="pk")
    date = DateTimeField(source="ordered_at")
    price = MoneyField(source="amount")
    customer = serializers.UUIDField(source="customer_id")
    loyalty_points = MoneyField(source="loyalty_net")
    payment_method = serializers.CharField()
    origin = serializers.CharField(source="channel")
    articles = TicketArticleSerializer(source="items.all", many=True)
