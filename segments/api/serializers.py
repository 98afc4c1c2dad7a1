from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm_project.api.fields import ModelSerializer
from customers.models import Customer
from segments import rules as rule_language
from segments.models import Segment

RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "A rule (section 5): a group `{logic: AND|OR, rules: [...]}`, a condition "
    "`{field, operator, value}` or a criterion `{type, ...parameters}`. Answers give it "
    "normalized.",
    "example": {
        "logic": "OR",
        "rules": [
            {"field": "city", "operator": "=", "value": "Lyon"},
            {
                "logic": "AND",
                "rules": [
                    {"field": "lifetime_spend", "operator": ">", "value": 100},
                    {"field": "tags", "operator": "contains", "value": "vip"},
                ],
            },
        ],
    },
}
PARTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "nullable": True,
    "description": "Open Loyalty's form of a rule: AND over parts, OR over each part's "
    "criteria. In answers only when the rule has that shape (else null), each part and "
    "criterion with a stable id.",
    "items": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "criteria": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": True,
                    "properties": {"type": {"type": "string"}},
                },
            }
        },
    },
    "example": [{"criteria": [{"type": "transaction_amount", "from_amount": 10, "to_amount": 50}]}],
}


@extend_schema_field(RULE_SCHEMA)
class RuleField(serializers.JSONField):
    pass


@extend_schema_field(PARTS_SCHEMA)
class PartsField(serializers.JSONField):
    """Written as Open Loyalty parts; read from the stored rule (null when the rule is
    not an AND of ORs of criteria)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is None:  # `"parts": null` sends no parts
            return {"parts": None}
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return {"parts": super().to_internal_value(data)}

    def to_representation(self, instance: Any) -> Any:
        if instance.rules is None:
            return None
        return rule_language.rule_to_parts(instance.rules, instance.pk)


def normalized_rule(
    attrs: dict[str, Any], *, account: Any, required: bool
) -> dict[str, Any] | None:
    """The normalized rule from `rules` or `parts` (popped from `attrs`), or None when
    neither was sent and none is required. Errors name the node they are about, under
    the key that was sent (`rules.rules.1.operator`, `parts.0.criteria.1.from_amount`);
    points of sale and agents must be the account's own."""
    has_rules, has_parts = "rules" in attrs, attrs.get("parts") is not None
    rules_in, parts_in = attrs.pop("rules", None), attrs.pop("parts", None)
    if not has_rules and not has_parts:
        if required:
            raise serializers.ValidationError(
                {"rules": ["Give the rule as `rules`, or as Open Loyalty `parts`."]},
                code="required",
            )
        return None
    validate = rule_language.validate_rule
    from_rules = validate(rules_in, attr="rules", account=account) if has_rules else None
    from_parts = validate(parts_in, attr="parts", account=account) if has_parts else None
    if from_rules is not None and from_parts is not None and from_rules != from_parts:
        raise serializers.ValidationError(
            {"parts": ["`rules` and `parts` describe different rules: send one of them."]},
            code="conflict",
        )
    return from_rules if from_rules is not None else from_parts


class SegmentSerializer(ModelSerializer):
    """A segment: give its rule as `rules` or as Open Loyalty `parts` (one is required
    on create); `customers_count` and `counted_at` are the last count."""

    rules = RuleField(required=False)
    parts = PartsField()

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "active",
            "rules",
            "parts",
            "customers_count",
            "counted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "customers_count", "counted_at", "created_at", "updated_at"]
        extra_kwargs = {"description": {"required": False}, "active": {"default": True}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule = normalized_rule(
            attrs, account=self.context.get("account"), required=self.instance is None
        )
        if rule is not None:
            attrs["rules"] = rule
        return attrs


class RuleInputSerializer(serializers.Serializer):
    """A rule to try: `rules`, or Open Loyalty `parts`."""

    rules = RuleField(required=False)
    parts = PartsField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {"rules": normalized_rule(attrs, account=self.context.get("account"), required=True)}


class SegmentCustomerSerializer(ModelSerializer):
    """A customer as a segment lists it: who they are and what they spent."""

    class Meta:
        model = Customer
        fields = [
            "id",
            "number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "city",
            "lifetime_spend",
            "total_orders",
        ]
        read_only_fields = fields


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many customers the rule selects now.")
    sample = SegmentCustomerSerializer(
        many=True, help_text="The first 10, by last then first name."
    )
