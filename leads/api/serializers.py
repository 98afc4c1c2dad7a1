"""Validation and shaping of leads. Writes go through leads.services; the leads' input
rules (aliases such as seed 002's `timestamp`, a `name` to split, the consent data)
are leads.inputs'."""

from typing import Any

from rest_framework import serializers

from accounts import selectors as account_selectors
from accounts.models import Agent
from campaigns.models import Campaign
from crm_project.api.bulk import MAX_BULK_ROWS
from crm_project.api.fields import (
    ChoiceField,
    ContactFields,
    DateTimeField,
    ModelSerializer,
    json_object,
)
from customers.api.serializers import (
    BlankableCharField,
    CustomerLookupSerializer,
    InteractionSerializer,
    SplitsName,
    interaction_type_choices,
)
from customers.models import LEAD_INTERACTION_TYPES
from leads import inputs
from leads.models import (
    STEP_DELAY_MAX_HOURS,
    Lead,
    LeadSource,
    LeadStatus,
    NurtureChannel,
    NurtureSequence,
    NurtureStep,
)


class LeadSerializer(SplitsName, ContactFields, ModelSerializer):
    NAME_PART_MAX = inputs.NAME_PART_MAX
    NULL_EMPTIES = {"attributes": dict}  # what a null clears it to

    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=inputs.NAME_MAX,
        help_text="Full name. On input it is split, the last word being the last name, "
        "unless first_name / last_name are given.",
    )
    first_name = BlankableCharField(max_length=inputs.NAME_PART_MAX)
    last_name = BlankableCharField(max_length=inputs.NAME_PART_MAX)
    email = BlankableCharField(max_length=254)
    phone = BlankableCharField(
        max_length=inputs.PHONE_MAX,
        help_text="Stored in E.164 when it is a possible number in the account's region.",
    )
    status = ChoiceField(
        choices=LeadStatus.choices,
        required=False,
        help_text="`converted` is set by POST /leads/{id}/convert/ only.",
    )
    source = ChoiceField(choices=LeadSource.choices, required=False)
    score = serializers.IntegerField(required=False, min_value=0, max_value=100)
    attributes = serializers.JSONField(
        required=False, help_text="An object of custom fields; a given object replaces it."
    )
    assigned_to = serializers.PrimaryKeyRelatedField(
        queryset=Agent.objects.none(),
        required=False,
        allow_null=True,
        pk_field=serializers.UUIDField(),
        help_text="An agent of the account.",
    )
    agent_external_id = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=100,
        help_text="The external_id of an agent of the account (instead of assigned_to).",
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.none(),
        required=False,
        allow_null=True,
        pk_field=serializers.UUIDField(),
        help_text="A campaign of the account.",
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "external_id",
            "source_id",
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "company",
            "source",
            "status",
            "score",
            "notes",
            "campaign",
            "assigned_to",
            "agent_external_id",
            "street",
            "city",
            "state",
            "zip",
            "ip_address",
            "acquired_at",
            "jornaya_lead_id",
            "trusted_form_id",
            "attributes",
            "last_contact",
            "unsubscribed_at",
            "nurture_state",
            "nurture_step",
            "converted_customer",
            "converted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "last_contact",
            "unsubscribed_at",
            "nurture_state",
            "nurture_step",
            "converted_customer",
            "converted_at",
            "created_at",
            "updated_at",
        ]
        # The unique index decides (409), not checks in Python.
        validators: list = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the account's agents and campaigns; another account's id "does not exist".
        account = self.context.get("account")
        self.fields["assigned_to"].queryset = Agent.objects.filter(account=account)
        self.fields["campaign"].queryset = Campaign.objects.filter(account=account)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # Read-only here: the conversion and nurturing set them.
        for name in ("nurture_state", "converted_customer"):
            fields[name].read_only = True
        return fields

    # --- Aliases, before the fields validate ------------------------------------------

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            # null clears a field: text becomes "", attributes {}.
            data = self.clear_nulls(inputs.with_aliases(data))
        return super().to_internal_value(data)

    # --- Fields -----------------------------------------------------------------------

    def validate_attributes(self, value: Any) -> dict[str, Any]:
        return json_object(value)

    def validate_agent_external_id(self, value: str | None) -> Agent | None:
        value = (value or "").strip()
        if not value:
            return None
        agent = account_selectors.agent_by_external_id(self.context["account"], value)
        if agent is None:
            raise serializers.ValidationError(
                "No agent of the account has this external_id.", code="does_not_exist"
            )
        return agent

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "agent_external_id" in attrs:
            agent = attrs.pop("agent_external_id")
            if agent is not None or "assigned_to" not in attrs:
                attrs["assigned_to"] = agent
        self.split_name(attrs)
        return attrs


class LeadBulkSerializer(serializers.Serializer):
    """For the schema: the body of `/leads/bulk/` (or a bare list)."""

    leads = LeadSerializer(many=True)


class LeadLookupSerializer(CustomerLookupSerializer):
    """`{"email"|"phone"|"external_id"}`: the same keys as the customers' look-up."""


# --- Interactions -----------------------------------------------------------------------


class LeadInteractionSerializer(InteractionSerializer):
    """A lead's interaction (SPEC): `notes` is its text, `date` defaults to now, `agent`
    to the lead's assigned_to."""

    type = ChoiceField(choices=interaction_type_choices(LEAD_INTERACTION_TYPES))
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True)
    notes = serializers.CharField(source="description", required=False, allow_blank=True)

    class Meta(InteractionSerializer.Meta):
        fields = [
            "id",
            "lead",
            "type",
            "subject",
            "notes",
            "outcome",
            "next_action",
            "next_action_date",
            "date",
            "agent",
            "completed",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "lead", "created_at", "updated_at"]
        extra_kwargs = {"date": {"required": False}}

    def to_internal_value(self, data: Any) -> Any:
        # The customers' name for the text is accepted too.
        if isinstance(data, dict) and "description" in data:
            data = dict(data)
            data.setdefault("notes", data.pop("description"))
        return super().to_internal_value(data)


# --- Nurturing --------------------------------------------------------------------------


class NurtureStepSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The step's place; steps are numbered 1..n in this order (missing: "
        "after the numbered ones, as listed).",
    )
    delay_hours = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=STEP_DELAY_MAX_HOURS,
        help_text="Hours after enrolment (step 1) or after the previous step was sent.",
    )
    channel = ChoiceField(choices=NurtureChannel.choices)
    subject = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Email steps only."
    )
    message = serializers.CharField(
        help_text="A template: the lead's fields, `{{ attributes.KEY }}`, `{{ account.* }}`."
    )

    class Meta:
        model = NurtureStep
        fields = ["order", "delay_hours", "channel", "subject", "message"]


class NurtureSequenceSerializer(ModelSerializer):
    # An empty list is refused by leads.services (a 400 on `steps` itself).
    steps = NurtureStepSerializer(many=True)

    class Meta:
        model = NurtureSequence
        fields = ["id", "name", "is_default", "active", "steps", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # the unique indexes decide (409)


class NurtureStartSerializer(serializers.Serializer):
    lead_ids = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=MAX_BULK_ROWS * 10,
        help_text="Leads to enrol (UUIDs or `ext:<external_id>`); none: every eligible "
        "lead of the account.",
    )
    sequence = serializers.PrimaryKeyRelatedField(
        queryset=NurtureSequence.objects.none(),
        required=False,
        pk_field=serializers.UUIDField(),
        help_text="A sequence of the account; none: the default.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = self.context.get("account")
        self.fields["sequence"].queryset = NurtureSequence.objects.filter(account=account)


class NurtureStartedSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="First steps due at once, now being sent.")


class UnsubscribedSerializer(serializers.Serializer):
    unsubscribed = serializers.IntegerField(help_text="The leads that match, now unsubscribed.")


class LeadStatisticsSerializer(serializers.Serializer):
    delivered_count = serializers.IntegerField()
    qualified = serializers.BooleanField()
    last_delivered_at = DateTimeField(allow_null=True)
    interactions_count = serializers.IntegerField()
    nurture_step = serializers.IntegerField()
    nurture_state = serializers.CharField()
