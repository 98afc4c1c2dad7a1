"""Follow-ups over the API: the open list, processing the caller's account now, and
completing one (customers.followups)."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.fields import ModelSerializer
from crm_project.api.filters import AccountDateTimeFilter
from crm_project.api.views import TenantGenericViewSet
from customers import followups, selectors
from customers.models import FollowUp

FOLLOWUP_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class FollowUpSerializer(ModelSerializer):
    customer = serializers.UUIDField(
        source="interaction.customer_id",
        read_only=True,
        allow_null=True,
        help_text="The interaction's customer (null for a lead's).",
    )
    lead = serializers.UUIDField(
        source="interaction.lead_id",
        read_only=True,
        allow_null=True,
        help_text="The interaction's lead (null for a customer's).",
    )
    next_action = serializers.CharField(source="interaction.next_action", read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "interaction",
            "customer",
            "lead",
            "agent",
            "next_action",
            "due_at",
            "status",
            "completed_at",
            "notified",
            "notified_at",
            "notify_error",
            "message",
            "created_at",
        ]
        read_only_fields = fields


class FollowUpProcessSerializer(serializers.Serializer):
    processed = serializers.IntegerField(
        help_text="Due interactions without a follow-up that this call looked at."
    )
    created = serializers.IntegerField(help_text="Follow-ups this call created.")
    notified = serializers.IntegerField(
        help_text="Agents' notifications this call put in the outbound ledger."
    )


class FollowUpFilter(filters.FilterSet):
    agent = filters.UUIDFilter(field_name="agent_id", label="For this agent (id)")
    due_before = AccountDateTimeFilter(
        field_name="due_at",
        lookup_expr="lt",
        label="Due before (a bare date: 00:00 in the account's timezone)",
    )

    class Meta:
        model = FollowUp
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        access = getattr(self.request, "access", None)
        account = access.account if access is not None else None
        self.filters["due_before"].extra["timezone_name"] = (
            getattr(account, "timezone", None) or "UTC"
        )


@extend_schema_view(retrieve=extend_schema(parameters=[FOLLOWUP_ID]))
class FollowUpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    """Follow-ups of interactions whose next action is due: the list holds the open
    ones, soonest due first; one of them (open or completed) by its id."""

    model = FollowUp
    serializer_class = FollowUpSerializer
    write_role = Role.MEMBER
    filterset_class = FollowUpFilter
    filter_backends = [DjangoFilterBackend]

    def get_scoped_queryset(self) -> QuerySet[FollowUp]:
        return selectors.followup_list(self.account)

    def get_object(self) -> FollowUp:
        followup = selectors.followup_get(self.account, self.kwargs["pk"])
        if followup is None:
            raise NotFound()
        self.check_object_permissions(self.request, followup)
        return followup

    @extend_schema(request=None, responses=FollowUpProcessSerializer)
    @action(detail=False, methods=["post"])
    def process(self, request: Request) -> Response:
        """Give every due, uncompleted interaction of the account that has none its
        follow-up now (beat does it every 5 minutes too), and notify each new one's
        agent once through the outbound ledger: email, else SMS, else not notified
        (`notify_error`). A second call creates and notifies nothing."""
        counts = followups.followups_process(account=self.account)
        return Response(FollowUpProcessSerializer(counts).data)

    @extend_schema(request=None, parameters=[FOLLOWUP_ID], responses=FollowUpSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        """Complete the follow-up and its interaction. Completing a completed one
        changes nothing."""
        followup = followups.followup_complete(followup=self.get_object())
        return Response(FollowUpSerializer(followup, context=self.get_serializer_context()).data)
