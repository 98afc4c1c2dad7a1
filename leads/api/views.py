from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.bulk import MAX_BULK_ROWS, BulkResultSerializer, RowResult, run_bulk
from crm_project.api.pagination import PageOrCursorPagination
from crm_project.api.views import TenantModelViewSet, require_list
from customers.api.serializers import CustomerSerializer
from leads import selectors, services
from leads.api.serializers import LeadBulkSerializer, LeadLookupSerializer, LeadSerializer
from leads.filters import LeadFilter, LeadOrdering
from leads.models import LEAD_COUNTER, Lead

LEAD_REF = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The lead's UUID or `ext:<external_id>`.",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[LEAD_REF]),
    update=extend_schema(parameters=[LEAD_REF], description="Partial, like PATCH."),
    partial_update=extend_schema(parameters=[LEAD_REF]),
    destroy=extend_schema(parameters=[LEAD_REF]),
)
class LeadViewSet(TenantModelViewSet):
    """Leads. `{id}` is the UUID or `ext:<external_id>`."""

    model = Lead
    row_counter = LEAD_COUNTER
    serializer_class = LeadSerializer
    pagination_class = PageOrCursorPagination
    write_role = Role.MEMBER
    filterset_class = LeadFilter
    filter_backends = [DjangoFilterBackend, LeadOrdering]
    ordering_fields = [
        "name",
        "email",
        "created_at",
        "updated_at",
        "score",
        "status",
        "acquired_at",
        "last_contact",
    ]
    ordering = ["-created_at"]
    # `{id}` may be `ext:<external_id>`, whose external_id may hold dots.
    lookup_value_regex = "[^/]+"

    def get_scoped_queryset(self) -> QuerySet[Lead]:
        return selectors.lead_list(self.account)

    def get_object(self) -> Lead:
        condition = selectors.lead_ref_filter(self.kwargs["pk"])
        if condition is None:
            raise NotFound()
        lead = get_object_or_404(self.get_queryset(), condition)
        self.check_object_permissions(self.request, lead)
        return lead

    def perform_create(self, serializer: LeadSerializer) -> None:
        serializer.instance = services.lead_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: LeadSerializer) -> None:
        serializer.instance = services.lead_update(
            lead=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Lead) -> None:
        services.lead_delete(lead=instance)

    @extend_schema(request=LeadLookupSerializer, responses=LeadSerializer)
    @action(detail=False, methods=["post"], write_role=Role.READ_ONLY)
    def lookup(self, request: Request) -> Response:
        """The lead with this email (case-insensitive), phone or external_id, or 404 (the
        most recent one when several match). A read: every role may call it."""
        query = LeadLookupSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        lead = selectors.lead_lookup(self.account, **query.validated_data)
        if lead is None:
            raise NotFound("No lead matches.")
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)

    def _bulk(self, request: Request, *, create: bool) -> Response:
        rows = require_list(request.data, "leads", max_rows=MAX_BULK_ROWS)
        context = self.get_serializer_context()

        def apply_row(row: dict) -> RowResult:
            serializer = LeadSerializer(data=row, partial=True, context=context)
            serializer.is_valid(raise_exception=True)
            lead, outcome = services.lead_upsert(
                account=self.account, create=create, **serializer.validated_data
            )
            return RowResult(outcome, lead.pk)

        return Response(run_bulk(rows, apply_row))

    @extend_schema(
        request=LeadBulkSerializer,
        responses=BulkResultSerializer,
        description='POST: upsert up to 1,000 leads by external_id (`{"leads": [...]}` '
        "or a bare list). PUT: update only; a row whose external_id names no lead fails.",
    )
    @action(detail=False, methods=["post", "put"])
    def bulk(self, request: Request) -> Response:
        return self._bulk(request, create=request.method == "POST")

    @extend_schema(
        parameters=[LEAD_REF],
        request=None,
        responses={201: CustomerSerializer, 200: CustomerSerializer},
    )
    @action(detail=True, methods=["post", "put"])
    def convert(self, request: Request, pk: str) -> Response:
        """Convert the lead into a customer: 201 with a new customer, 200 with the
        customer of the same email (case-insensitive) it was linked to, or the one it
        was converted to before."""
        lead = self.get_object()
        customer, created = services.lead_convert(account=self.account, lead=lead)
        data = CustomerSerializer(customer, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
