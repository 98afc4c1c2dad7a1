from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from campaigns import nlp, selectors, services, suggestions
from campaigns.api.serializers import (
    AudienceInputSerializer,
    AudiencePreviewSerializer,
    CampaignSerializer,
    ParseSegmentInputSerializer,
    ParseSegmentSerializer,
    RecipientSerializer,
    SuggestionsInputSerializer,
    SuggestionsSerializer,
)
from campaigns.filters import CampaignFilter, CampaignOrdering, RecipientFilter
from campaigns.models import Campaign, CampaignStatus, MessageStatus
from crm_project.api.pagination import (
    CursorPagination,
    PageNumberPagination,
    PageOrCursorPagination,
)
from crm_project.api.schema import BadRequestResponseSerializer
from crm_project.api.views import TenantModelViewSet
from crm_project.datetimes import account_today

CAMPAIGN_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
RECIPIENT_STATUS = OpenApiParameter(
    "status",
    OpenApiTypes.STR,
    description="Any of these statuses, comma-separated: "
    + ", ".join(MessageStatus.values)
    + " (another value is a 400).",
)
CAN_NOT_RUN = OpenApiResponse(
    BadRequestResponseSerializer,
    description="It cannot run as it is: its segment was deleted or is inactive "
    "(`segment`), its template does not compile (`message`, `subject`), or its "
    "`scheduled_at` is missing.",
)


class RecipientPagination(PageOrCursorPagination):
    """Cursor pages by default (`{"next", "previous", "results"}`, constant cost however
    many recipients); `?page=N` gives numbered pages with a `count`."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        if self.page_query_param in request.query_params:
            self._cursor = None
            return PageNumberPagination.paginate_queryset(self, queryset, request, view)
        self._cursor = CursorPagination()
        return self._cursor.paginate_queryset(queryset, request, view)


@extend_schema_view(
    retrieve=extend_schema(parameters=[CAMPAIGN_ID]),
    create=extend_schema(
        description='A campaign on an active segment or inline rules. With `"status": '
        '"draft"` it waits (201); otherwise an immediate campaign starts at once (202) and '
        "a scheduled one is saved (201) and starts at `scheduled_at`.",
        responses={
            201: OpenApiResponse(CampaignSerializer, description="A draft or scheduled campaign."),
            202: OpenApiResponse(CampaignSerializer, description="Started: it is sending."),
        },
    ),
    update=extend_schema(
        parameters=[CAMPAIGN_ID],
        description="Partial, like PATCH. Only a draft or scheduled campaign can be "
        "changed (409 otherwise).",
    ),
    partial_update=extend_schema(
        parameters=[CAMPAIGN_ID],
        description="Only a draft or scheduled campaign can be changed (409 otherwise).",
    ),
    destroy=extend_schema(
        parameters=[CAMPAIGN_ID],
        description="A campaign that has written messages keeps its record (409).",
    ),
)
class CampaignViewSet(TenantModelViewSet):
    """Email and SMS campaigns: their audience, templates and delivery, with stats that
    are counts over their messages."""

    model = Campaign
    serializer_class = CampaignSerializer
    write_role = Role.MEMBER
    filterset_class = CampaignFilter
    filter_backends = [DjangoFilterBackend, CampaignOrdering]
    ordering_fields = [
        "name",
        "status",
        "channel",
        "created_at",
        "updated_at",
        "scheduled_at",
        "started_at",
        "finished_at",
    ]
    ordering = ["-created_at", "-id"]
    # The recipients' cursor pages (the campaign list has numbered pages): by message
    # id, the (campaign, id) index.
    cursor_ordering = ("id",)

    def get_scoped_queryset(self) -> QuerySet[Campaign]:
        return selectors.campaign_list(self.account)

    def get_object(self) -> Campaign:
        campaign = selectors.campaign_get(self.account, self.kwargs["pk"])
        if campaign is None:
            raise NotFound()
        self.check_object_permissions(self.request, campaign)
        return campaign

    def _with_stats(self, campaigns: list[Campaign]) -> dict[str, Any]:
        """The serializer context with the stats of `campaigns`, in one query."""
        stats = selectors.campaign_stats(self.account, [campaign.pk for campaign in campaigns])
        return {**self.get_serializer_context(), "stats": stats}

    def _answer(self, campaign: Campaign, status_code: int = status.HTTP_200_OK) -> Response:
        context = self._with_stats([campaign])
        return Response(CampaignSerializer(campaign, context=context).data, status=status_code)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaigns = self.filter_queryset(self.get_queryset())
        page = list(self.paginate_queryset(campaigns))
        serializer = CampaignSerializer(page, many=True, context=self._with_stats(page))
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(account=self.account, **serializer.service_kwargs())
        started = campaign.status == CampaignStatus.SENDING
        return self._answer(
            campaign, status.HTTP_202_ACCEPTED if started else status.HTTP_201_CREATED
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # PUT and PATCH are both partial (the seeds update with partial PUTs).
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_update(
            campaign=serializer.instance, **serializer.service_kwargs()
        )
        return self._answer(campaign)

    def perform_destroy(self, instance: Campaign) -> None:
        services.campaign_delete(campaign=instance)

    @extend_schema(
        request=None,
        parameters=[CAMPAIGN_ID],
        responses={
            202: OpenApiResponse(CampaignSerializer, description="Started: it is sending."),
            400: CAN_NOT_RUN,
        },
    )
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk: str) -> Response:
        """Start a draft or scheduled campaign now. A campaign that is sending, sent,
        cancelled or failed is a 409 and nothing is sent; of two launches at once, one
        starts it and the other is a 409."""
        campaign = services.campaign_launch(campaign=self.get_object())
        return self._answer(campaign, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, parameters=[CAMPAIGN_ID], responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop a draft, scheduled or sending campaign: its queued messages become
        skipped (`cancelled`); those already handed to a worker finish. A sent,
        cancelled or failed campaign is a 409."""
        return self._answer(services.campaign_cancel(campaign=self.get_object()))

    @extend_schema(
        parameters=[CAMPAIGN_ID, RECIPIENT_STATUS],
        responses=RecipientSerializer(many=True),
        # The view's queryset is of campaigns: RecipientFilter's parameter is declared.
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=RecipientPagination,
        filterset_class=RecipientFilter,
        filter_backends=[DjangoFilterBackend],
    )
    def recipients(self, request: Request, pk: str) -> Response:
        """The campaign's messages, one per recipient, in the order they were written;
        `error` says why one was skipped or failed. Cursor pages by default; `?page=N`
        for numbered pages with a count."""
        campaign = self.get_object()
        messages = self.filter_queryset(selectors.campaign_recipients(self.account, campaign))
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(RecipientSerializer(page, many=True).data)

    @extend_schema(request=AudienceInputSerializer, responses=AudiencePreviewSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="preview-audience",
        write_role=Role.READ_ONLY,
    )
    def preview_audience(self, request: Request) -> Response:
        """How many customers a segment or inline rules select now, how many of them the
        channel would actually reach, and the first 10. Saves nothing: every role may
        call it."""
        query = AudienceInputSerializer(data=request.data, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        preview = selectors.audience_preview(
            self.account, query.validated_data["rule"], channel=query.validated_data["channel"]
        )
        return Response(AudiencePreviewSerializer(preview).data)

    @extend_schema(request=ParseSegmentInputSerializer, responses=ParseSegmentSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="ai/parse-segment",
        write_role=Role.READ_ONLY,
    )
    def parse_segment(self, request: Request) -> Response:
        """An English description of customers as a valid rule, its explanation and the
        fragments not understood (offline; the LLM first when `LLM_URL` is set). Saves
        nothing: every role may call it."""
        query = ParseSegmentInputSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        parsed = nlp.parse_segment(
            query.validated_data["prompt"],
            today=account_today(self.account),
            account=self.account,
            pos_resolver=lambda name: selectors.pos_ids_named(self.account, name),
        )
        return Response(ParseSegmentSerializer({**parsed.as_dict(), "source": parsed.source}).data)

    @extend_schema(request=SuggestionsInputSerializer, responses=SuggestionsSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="ai/message-suggestions",
        write_role=Role.READ_ONLY,
    )
    def message_suggestions(self, request: Request) -> Response:
        """Ready templates for an objective (SMS at most 160 characters, email with a
        subject and an unsubscribe link). Saves nothing: every role may call it."""
        query = SuggestionsInputSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        found = suggestions.suggest_messages(**query.validated_data)
        return Response(SuggestionsSerializer({"messages": [s.as_dict() for s in found]}).data)
