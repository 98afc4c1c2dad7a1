"""Validation and shapes of the campaigns API. Writes go through campaigns.services;
the segment a body names is resolved within the caller's account (another account's id
is a 400 on `segment`, exactly like a missing one), inline rules are normalized by the
segment rule language, and stats are counts over the ledger computed by the view for a
whole page at once (campaigns.selectors.campaign_stats)."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns import selectors
from campaigns.models import Campaign, CampaignStatus, Channel, DeliveryMode, Message
from campaigns.nlp.parser import MAX_PROMPT
from campaigns.suggestions import MAX_COUNT, MAX_OBJECTIVE, MIN_COUNT, TONES
from crm_project.api.fields import ChoiceField, ModelSerializer
from segments import rules as rule_language
from segments.api.serializers import RULE_SCHEMA, RuleField, SegmentCustomerSerializer
from segments.models import Segment

# Seed compatibility: input keys read as another key (when that key is not also given).
CAMPAIGN_ALIASES = {"campaign_name": "name", "segment_id": "segment"}


def _with_aliases(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for alias, canonical in CAMPAIGN_ALIASES.items():
        if alias in data:
            value = data.pop(alias)
            data.setdefault(canonical, value)
    return data


class CampaignStatsSerializer(serializers.Serializer):
    audience_size = serializers.IntegerField(help_text="Every recipient, skipped ones included.")
    queued = serializers.IntegerField(help_text="Waiting to be sent, or being sent.")
    sent = serializers.IntegerField(help_text="Sent, delivered, opened or clicked.")
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    delivered = serializers.IntegerField(help_text="Delivered, opened or clicked.")
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    bounced = serializers.IntegerField()
    ctr = serializers.FloatField(
        min_value=0, max_value=1, help_text="clicked / delivered (0 when nothing was delivered)."
    )


@extend_schema_field(CampaignStatsSerializer)
class StatsField(serializers.Field):
    """The campaign's counts over its messages: from the serializer's context `stats`
    ({campaign id: stats}, computed by the view for the whole page in one query)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, campaign: Campaign) -> dict[str, Any]:
        stats = self.context.get("stats")
        if stats is None or campaign.pk not in stats:
            stats = selectors.campaign_stats(campaign.account_id, [campaign.pk])
        return stats[campaign.pk]


@extend_schema_field(
    {"type": "string", "enum": Channel.values}, component_name="CampaignChannelEnum"
)
class ChannelField(ChoiceField):
    """A campaign's or message's channel (its own enum in the schema: orders have
    channels too)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Channel.choices, **kwargs)


class CampaignStatusField(ChoiceField):
    """The campaign's status. On input only `draft` (on create: save it as a draft
    instead of starting or scheduling it); the status changes through the launch and
    cancel actions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=CampaignStatus.choices, **kwargs)


class CampaignStatusFieldExtension(OpenApiSerializerFieldExtension):
    target_class = CampaignStatusField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        if direction == "request":
            # A pattern, not a one-value enum: the schema's enum hook would merge it
            # into the status enum of the answers.
            return {
                "type": "string",
                "pattern": "^[Dd][Rr][Aa][Ff][Tt]$",
                "description": "Only `draft`, on create: save the campaign without starting "
                "or scheduling it. The status changes through the launch and cancel actions.",
            }
        return auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)


def _segment_field(**kwargs: Any) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.none(),
        required=False,
        allow_null=True,
        pk_field=serializers.UUIDField(),
        **kwargs,
    )


def _account_segments(serializer: serializers.Serializer) -> None:
    # Only segments of the request's account; another account's id "does not exist".
    account = serializer.context.get("account")
    serializer.fields["segment"].queryset = Segment.objects.filter(account=account)


def _audience(
    attrs: dict[str, Any], *, account: Any, required: bool
) -> tuple[Segment | None, dict[str, Any] | None]:
    """(segment, normalized rules) of a body that names a segment or gives inline rules
    (not both; one of them when `required`)."""
    segment, rules = attrs.get("segment"), attrs.get("rules")
    if segment is not None and rules is not None:
        raise serializers.ValidationError(
            {"segment": ["Give a segment or rules, not both."]}, code="conflict"
        )
    if required and segment is None and rules is None:
        raise serializers.ValidationError(
            {"segment": ["Give a segment (its id) or inline rules."]}, code="required"
        )
    if rules is not None:
        rules = rule_language.validate_rule(rules, attr="rules", account=account)
    return segment, rules


class CampaignSerializer(ModelSerializer):
    """A campaign: its audience (`segment`, an active segment of the account, or inline
    `rules`), its templates and when it goes out. Seed 000's `campaignName`,
    `deliveryMode` and `scheduledAt` are read too."""

    segment = _segment_field(help_text="An active segment of the account (or give `rules`).")
    rules = RuleField(
        required=False,
        allow_null=True,
        help_text="Inline rules (section 5), when the campaign targets no saved segment.",
    )
    subject = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Email subject (a template); defaults to the name.",
    )
    channel = ChannelField(required=False, help_text="email (default) or sms.")
    status = CampaignStatusField(required=False)
    stats = StatsField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "channel",
            "segment",
            "rules",
            "subject",
            "message",
            "delivery_mode",
            "scheduled_at",
            "status",
            "stats",
            "error",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [
            "id",
            "error",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
        ]
        extra_kwargs = {
            "description": {"required": False},
            "message": {"help_text": "The message template (Django template language)."},
            "scheduled_at": {
                "help_text": "When a scheduled campaign starts; given without "
                "`delivery_mode`, the campaign is scheduled."
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _account_segments(self)

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(_with_aliases(data))

    def validate_status(self, value: str) -> str:
        current = self.instance.status if self.instance is not None else CampaignStatus.DRAFT
        if value != current:
            if self.instance is None:
                detail = 'Only "draft" may be given: a campaign starts or is scheduled by itself.'
            else:
                detail = "The status changes through the launch and cancel actions."
            raise serializers.ValidationError(detail, code="invalid_choice")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _segment, rules = _audience(
            attrs, account=self.context.get("account"), required=self.instance is None
        )
        if "rules" in attrs:
            attrs["rules"] = rules
        if attrs.get("scheduled_at") is not None and "delivery_mode" not in attrs:
            attrs["delivery_mode"] = DeliveryMode.SCHEDULED
        return attrs

    def service_kwargs(self) -> dict[str, Any]:
        """The validated data as campaigns.services takes it."""
        fields = dict(self.validated_data)
        draft = fields.pop("status", None) == CampaignStatus.DRAFT
        if self.instance is None:
            fields["draft"] = draft
            fields = {key: value for key, value in fields.items() if value is not None}
        return fields


class RecipientSerializer(ModelSerializer):
    """One message of a campaign: to whom, where, and what became of it (`error` says
    why it was skipped or failed)."""

    channel = ChannelField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "customer",
            "channel",
            "address",
            "status",
            "error",
            "tries",
            "source",
            "created_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "unsubscribed_at",
            "failed_at",
        ]
        read_only_fields = fields


# --- Audience preview and the language helpers -----------------------------------------


class AudienceInputSerializer(serializers.Serializer):
    """The audience a campaign would have: a segment or inline rules, and a channel."""

    segment = _segment_field(help_text="An active segment of the account (or give `rules`).")
    rules = RuleField(required=False, allow_null=True)
    channel = ChannelField(default=Channel.EMAIL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _account_segments(self)

    def validate_segment(self, segment: Segment | None) -> Segment | None:
        if segment is not None and not segment.active:
            raise serializers.ValidationError(
                "This segment is inactive: only an active segment can be targeted.",
                code="inactive",
            )
        return segment

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        segment, rules = _audience(attrs, account=self.context.get("account"), required=True)
        return {"rule": segment.rules if segment is not None else rules, **attrs}


class AudiencePreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many customers the audience selects now.")
    reachable = serializers.IntegerField(
        help_text="How many the channel would actually send to: not blocked, opted in, with "
        "an address, each address once."
    )
    sample = SegmentCustomerSerializer(
        many=True, help_text="The first 10, by last then first name."
    )


class ParseSegmentInputSerializer(serializers.Serializer):
    prompt = serializers.CharField(
        max_length=MAX_PROMPT,
        trim_whitespace=False,
        help_text="The customers to select, in English.",
    )


@extend_schema_field({**RULE_SCHEMA, "nullable": True})
class NullableRuleField(serializers.JSONField):
    pass


class ParseSegmentSerializer(serializers.Serializer):
    rules = NullableRuleField(
        help_text="A valid, normalized rule; null when nothing was understood."
    )
    explanation = serializers.CharField(help_text="The rule in plain English.")
    unparsed = serializers.ListField(
        child=serializers.CharField(), help_text="Fragments of the prompt not understood."
    )
    source = serializers.ChoiceField(
        choices=["offline", "llm"], help_text="Who read the prompt: the built-in parser or the LLM."
    )


class SuggestionsInputSerializer(serializers.Serializer):
    objective = serializers.CharField(
        max_length=MAX_OBJECTIVE, help_text="What the campaign should achieve."
    )
    channel = ChannelField(default=Channel.EMAIL)
    tone = ChoiceField(choices=[(tone, tone) for tone in TONES], default="friendly")
    count = serializers.IntegerField(min_value=MIN_COUNT, max_value=MAX_COUNT, default=3)


class SuggestionSerializer(serializers.Serializer):
    subject = serializers.CharField(required=False, help_text="Email only.")
    message = serializers.CharField(help_text="A ready template of this product's language.")


class SuggestionsSerializer(serializers.Serializer):
    messages = SuggestionSerializer(many=True)
