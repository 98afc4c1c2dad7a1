"""Validation and shaping of customers and interactions. Writes go through
customers.services; the customers' input rules (aliases such as seed 001's French keys,
other choice spellings, a `name` to split, tags) are customers.inputs', applied here
before the fields validate."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Agent
from crm_project.api.fields import (
    ChoiceField,
    ContactFields,
    DateTimeField,
    ModelSerializer,
    MoneyField,
    json_object,
)
from customers import inputs
from customers.models import (
    CUSTOMER_INTERACTION_TYPES,
    SPEND_DIGITS,
    Customer,
    CustomerType,
    Gender,
    Interaction,
    InteractionType,
    Lifecycle,
)
from loyalty import selectors as loyalty_selectors


class TagsField(serializers.ListField):
    """A list of strings (a comma-separated string is read as one too)."""

    child = serializers.CharField(max_length=inputs.TAG_MAX, allow_blank=True, trim_whitespace=True)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            data = data.split(",")
        return inputs.clean_tags(super().to_internal_value(data))


# Formats a customer's points (one field for every row, not one made per row).
_POINTS = MoneyField()


class LevelReferenceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class CustomerListSerializer(serializers.ListSerializer):
    """Customers in a list: their loyalty standing (cards summed, level) is read for the
    whole page in one query before the rows are shaped."""

    def to_representation(self, data: Any) -> list[Any]:
        rows = list(data.all() if hasattr(data, "all") else data)
        account = self.context.get("account")
        if account is not None and rows:
            self.context["loyalty_standing"] = loyalty_selectors.customers_standing(
                account, [row.pk for row in rows]
            )
        return super().to_representation(rows)


class BlankableCharField(serializers.CharField):
    """A text field where null means empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return "" if data is None else super().to_internal_value(data)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


class SplitsName:
    """A `name` given on input becomes the first and last names it fills
    (customers.inputs.names_from_input: given parts win), each at most NAME_PART_MAX
    characters, else a 400 on `name`. For the serializers of people (customers, leads)."""

    NAME_PART_MAX: int = inputs.NAME_PART_MAX

    def split_name(self, attrs: dict[str, Any]) -> None:
        if "name" not in attrs:
            return
        first, last = inputs.names_from_input(
            attrs.pop("name"), attrs.get("first_name"), attrs.get("last_name")
        )
        for field, value in (("first_name", first), ("last_name", last)):
            if value is None:
                continue
            if len(value) > self.NAME_PART_MAX:
                message = f"Each part of the name is at most {self.NAME_PART_MAX} characters."
                raise serializers.ValidationError({"name": [message]}, code="max_length")
            attrs[field] = value


class CustomerSerializer(SplitsName, ContactFields, ModelSerializer):
    NULL_EMPTIES = {"tags": list, "metadata": dict}  # what a null clears them to

    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=inputs.NAME_MAX,
        help_text="Full name. On input it is split, the last word being the last name, "
        "unless first_name / last_name are given.",
    )
    email = BlankableCharField(max_length=254)
    phone = BlankableCharField(
        max_length=64, help_text="Stored in E.164 when it parses in the account's region."
    )
    tags = TagsField(required=False)
    gender = ChoiceField(choices=Gender.choices, aliases=inputs.GENDER_SPELLINGS, required=False)
    type = ChoiceField(choices=CustomerType.choices, aliases=inputs.TYPE_SPELLINGS, required=False)
    metadata = serializers.JSONField(
        required=False, help_text="An object of custom fields; a given object replaces it."
    )
    assigned_to = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.none(),
        required=False,
        allow_null=True,
        pk_field=serializers.UUIDField(),
        help_text="An agent of the account.",
    )
    credit_limit = MoneyField(required=False, allow_null=True, min_value=0)
    id_client = serializers.UUIDField(
        write_only=True,
        required=False,
        help_text="Seed 001's `IdClient`: the id of a new customer (409 when taken).",
    )
    average_order_value = MoneyField(read_only=True, max_digits=20)
    loyalty_points = serializers.SerializerMethodField(
        help_text="The sum of the customer's cards' balances."
    )
    loyalty_level = serializers.SerializerMethodField(
        help_text="The highest level the customer's lifetime earned points reach, or null."
    )

    class Meta:
        model = Customer
        list_serializer_class = CustomerListSerializer
        fields = [
            "id",
            "number",
            "external_id",
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "company",
            "type",
            "status",
            "gender",
            "date_of_birth",
            "street",
            "city",
            "state",
            "zip",
            "country",
            "billing_address",
            "shipping_address",
            "payment_terms",
            "credit_limit",
            "tax_id",
            "metadata",
            "tags",
            "email_opt_in",
            "sms_opt_in",
            "unsubscribed_at",
            "assigned_to",
            "source_lead",
            "notes",
            "created_at",
            "updated_at",
            "lifetime_spend",
            "total_orders",
            "average_order_value",
            "first_order_date",
            "last_order_date",
            "refusals_count",
            "loyalty_points",
            "loyalty_level",
            "id_client",
        ]
        read_only_fields = [
            "id",
            "number",
            "created_at",
            "updated_at",
            "lifetime_spend",
            "total_orders",
            "first_order_date",
            "last_order_date",
            "refusals_count",
        ]
        # The unique indexes decide (409), not checks in Python.
        validators: list = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only agents of the request's account; another account's id "does not exist".
        account = self.context.get("account")
        self.fields["assigned_to"].queryset = Agent.objects.filter(account=account)

    # --- Loyalty standing (read from the cards) -----------------------------------------

    def _standing(self, customer: Customer) -> loyalty_selectors.Standing:
        page = self.context.get("loyalty_standing")
        if page is not None:
            return page.get(customer.pk, loyalty_selectors.NO_STANDING)
        return loyalty_selectors.customer_standing(customer.account, customer.pk)

    @extend_schema_field(MoneyField())
    def get_loyalty_points(self, customer: Customer) -> str:
        return _POINTS.to_representation(self._standing(customer).points)

    @extend_schema_field(LevelReferenceSerializer(allow_null=True))
    def get_loyalty_level(self, customer: Customer) -> dict[str, Any] | None:
        level = self._standing(customer).level
        return None if level is None else {"id": str(level.pk), "name": level.name}

    # --- Aliases, before the fields validate ------------------------------------------

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = self._translate_aliases(data)
        return super().to_internal_value(data)

    def _translate_aliases(self, data: dict[str, Any]) -> dict[str, Any]:
        data = inputs.with_aliases(data)
        extra = {key: data.pop(key) for key in list(data) if key in inputs.SEED_METADATA_KEYS}
        self._metadata_extra = extra or None
        # null clears a field: text becomes "", tags [], metadata {}.
        return self.clear_nulls(data)

    # --- Fields -----------------------------------------------------------------------

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        return json_object(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.split_name(attrs)
        return attrs

    def service_kwargs(self) -> dict[str, Any]:
        """The validated data as the services take it."""
        fields = dict(self.validated_data)
        customer_id = fields.pop("id_client", None)
        kwargs: dict[str, Any] = {
            **fields,
            "metadata_extra": getattr(self, "_metadata_extra", None),
        }
        if self.instance is None:
            kwargs["customer_id"] = customer_id
        return kwargs


class CustomerBulkSerializer(serializers.Serializer):
    """For the schema: the body of `/customers/bulk/` (also `{"clients": [...]}` or a
    bare list)."""

    customers = CustomerSerializer(many=True)


class CustomerLookupSerializer(serializers.Serializer):
    email = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    external_id = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {key: value.strip() for key, value in attrs.items() if value and value.strip()}
        if not attrs:
            raise serializers.ValidationError(
                "Give an email, a phone or an external_id.", code="required"
            )
        return attrs


class RfmSerializer(serializers.Serializer):
    r = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)
    f = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)
    m = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)


class CustomerHealthSerializer(serializers.Serializer):
    customer = serializers.UUIDField()
    score = serializers.IntegerField(min_value=0, max_value=100)
    grade = serializers.ChoiceField(choices=["A", "B", "C", "D", "F"])
    risk = serializers.ChoiceField(choices=["low", "medium", "high"])
    lifecycle = serializers.ChoiceField(choices=Lifecycle.values)
    recency_days = serializers.IntegerField(allow_null=True)
    frequency_365d = serializers.IntegerField()
    monetary_365d = MoneyField(max_digits=SPEND_DIGITS)
    rfm = RfmSerializer(help_text="Quintiles within the account; null without counted orders.")
    orders_count = serializers.IntegerField(help_text="Counted orders, all time.")
    interactions_90d = serializers.IntegerField()
    last_contact_at = DateTimeField(allow_null=True)
    average_feedback_rating = serializers.DecimalField(
        max_digits=3, decimal_places=2, allow_null=True
    )
    open_follow_ups = serializers.IntegerField()
    as_of = serializers.DateField(help_text="Today in the account's timezone.")


class LifecycleCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    active = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    churned = serializers.IntegerField()
    vip = serializers.IntegerField()


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="order, interaction, ...")
    at = DateTimeField()
    id = serializers.UUIDField()
    summary = serializers.CharField()
    data = serializers.DictField()


class TimelineSerializer(serializers.Serializer):
    results = TimelineEntrySerializer(many=True)


class TimelineQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)


# --- Interactions ---------------------------------------------------------------------


def interaction_type_choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    labels = dict(InteractionType.choices)
    return [(value, labels[value]) for value in values]


class InteractionSerializer(ModelSerializer):
    type = ChoiceField(choices=interaction_type_choices(CUSTOMER_INTERACTION_TYPES))
    subject = serializers.CharField(max_length=255)
    agent = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.none(),
        required=False,
        allow_null=True,
        pk_field=serializers.UUIDField(),
        help_text="An agent of the account.",
    )

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "type",
            "subject",
            "description",
            "date",
            "outcome",
            "next_action",
            "next_action_date",
            "agent",
            "completed",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "customer", "created_at", "updated_at"]
        extra_kwargs = {"date": {"required": True}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = self.context.get("account")
        self.fields["agent"].queryset = Agent.objects.filter(account=account)

    def to_internal_value(self, data: Any) -> Any:
        # Seed 004 calls the description `notes` (the leads' serializer's own name).
        if isinstance(data, dict) and "notes" in data and "notes" not in self.fields:
            data = dict(data)
            data.setdefault("description", data.pop("notes"))
        return super().to_internal_value(data)
