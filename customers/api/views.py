from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.bulk import MAX_BULK_ROWS, BulkResultSerializer, RowResult, run_bulk
from crm_project.api.pagination import PageOrCursorPagination
from crm_project.api.views import TenantModelViewSet, require_list
from customers import selectors, services, timeline
from customers.api.serializers import (
    CustomerBulkSerializer,
    CustomerHealthSerializer,
    CustomerLookupSerializer,
    CustomerSerializer,
    InteractionSerializer,
    LifecycleCountsSerializer,
    TimelineQuerySerializer,
    TimelineSerializer,
)
from customers.filters import (
    CUSTOMER_ORDERING_FIELDS,
    CustomerFilter,
    CustomerOrdering,
    InteractionFilter,
)
from customers.models import CUSTOMER_COUNTER, Customer, Interaction
from segments import selectors as segment_selectors
from segments.api.serializers import SegmentSerializer

CUSTOMER_REF = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The customer's UUID or its per-account number.",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[CUSTOMER_REF]),
    update=extend_schema(parameters=[CUSTOMER_REF], description="Partial, like PATCH."),
    partial_update=extend_schema(parameters=[CUSTOMER_REF]),
    destroy=extend_schema(
        parameters=[CUSTOMER_REF], description="A customer with orders cannot be deleted (409)."
    ),
)
class CustomerViewSet(TenantModelViewSet):
    """Customers. `{id}` is the UUID or the per-account number."""

    model = Customer
    row_counter = CUSTOMER_COUNTER
    serializer_class = CustomerSerializer
    pagination_class = PageOrCursorPagination
    write_role = Role.MEMBER
    filterset_class = CustomerFilter
    filter_backends = [DjangoFilterBackend, CustomerOrdering]
    ordering_fields = CUSTOMER_ORDERING_FIELDS
    ordering = ["-created_at"]

    def get_scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.customer_list(self.account)

    def get_object(self) -> Customer:
        condition = selectors.customer_ref_filter(self.kwargs["pk"])
        if condition is None:
            raise NotFound()
        customer = get_object_or_404(self.get_queryset(), condition)
        self.check_object_permissions(self.request, customer)
        return customer

    def perform_create(self, serializer: CustomerSerializer) -> None:
        serializer.instance = services.customer_create(
            account=self.account, **serializer.service_kwargs()
        )

    def perform_update(self, serializer: CustomerSerializer) -> None:
        serializer.instance = services.customer_update(
            customer=serializer.instance, **serializer.service_kwargs()
        )

    def perform_destroy(self, instance: Customer) -> None:
        services.customer_delete(customer=instance)

    @extend_schema(
        responses=CustomerSerializer(many=True),
        filters=True,
        description="The same search as `GET /customers/?q=` (seed 000).",
    )
    @action(detail=False, methods=["get"])
    def search(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=CustomerLookupSerializer, responses=CustomerSerializer)
    @action(detail=False, methods=["post"], write_role=Role.READ_ONLY)
    def lookup(self, request: Request) -> Response:
        """The customer with this email (case-insensitive), phone or external_id, or 404.
        A read: every role may call it."""
        query = CustomerLookupSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        customer = selectors.customer_lookup(self.account, **query.validated_data)
        if customer is None:
            raise NotFound("No customer matches.")
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data)

    @extend_schema(request=CustomerBulkSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Upsert up to 1,000 customers: `{"customers": [...]}`, seed 001's
        `{"clients": [...]}` or a bare list. A row updates the customer with its
        `id_client`, else its external_id, else its email; otherwise it creates one."""
        data = request.data
        seed_001 = isinstance(data, dict) and "clients" in data and "customers" not in data
        key = "clients" if seed_001 else "customers"
        rows = require_list(data, key, max_rows=MAX_BULK_ROWS)
        context = self.get_serializer_context()

        def apply_row(row: dict) -> RowResult:
            serializer = CustomerSerializer(data=row, partial=True, context=context)
            serializer.is_valid(raise_exception=True)
            customer, outcome = services.customer_upsert(
                account=self.account, **serializer.service_kwargs()
            )
            return RowResult(outcome, customer.pk)

        return Response(run_bulk(rows, apply_row))

    @extend_schema(
        parameters=[CUSTOMER_REF, TimelineQuerySerializer],
        responses=TimelineSerializer,
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        """Orders and interactions (messages, feedback and points as their apps land),
        newest first; `limit` entries (default 50, at most 500)."""
        customer = self.get_object()
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        entries = timeline.customer_timeline(
            self.account, customer, limit=query.validated_data["limit"]
        )
        return Response(TimelineSerializer({"results": entries}).data)

    @extend_schema(parameters=[CUSTOMER_REF], responses=CustomerHealthSerializer)
    @action(detail=True, methods=["get"])
    def health(self, request: Request, pk: str) -> Response:
        """Score, grade, risk and lifecycle from RFM quintiles within the account."""
        customer = self.get_object()
        thresholds = services.health_thresholds_current(account=self.account)
        health = selectors.customer_health(self.account, customer, thresholds=thresholds)
        data = {**health.__dict__, "customer": customer.pk}
        return Response(CustomerHealthSerializer(data).data)

    def _lifecycle_counts(self) -> Response:
        thresholds = services.health_thresholds_current(account=self.account)
        counts = selectors.customer_lifecycle_counts(self.account, thresholds=thresholds)
        return Response(LifecycleCountsSerializer(counts).data)

    @extend_schema(responses=LifecycleCountsSerializer)
    @action(detail=False, methods=["get"])
    def segments(self, request: Request) -> Response:
        """How many customers are in each lifecycle bucket (every customer in one)."""
        return self._lifecycle_counts()

    @extend_schema(parameters=[CUSTOMER_REF], responses=SegmentSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="segments")
    def member_of_segments(self, request: Request, pk: str) -> Response:
        """The active segments that contain this customer."""
        segments = segment_selectors.active_segments_containing(self.account, self.get_object())
        return Response(
            SegmentSerializer(segments, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(responses=LifecycleCountsSerializer, description="Alias of /segments/.")
    @action(detail=False, methods=["get"])
    def lifecycle(self, request: Request) -> Response:
        return self._lifecycle_counts()


def interaction_routes_schema(holder: str, description: str) -> Any:
    """The schema of a holder's interaction routes: `{holder}` described, then `id`."""
    parameters = [
        OpenApiParameter(holder, OpenApiTypes.STR, OpenApiParameter.PATH, description=description),
        OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH),
    ]
    return extend_schema_view(
        list=extend_schema(parameters=parameters[:1]),
        create=extend_schema(parameters=parameters[:1]),
        retrieve=extend_schema(parameters=parameters),
        update=extend_schema(parameters=parameters, description="Partial, like PATCH."),
        partial_update=extend_schema(parameters=parameters),
        destroy=extend_schema(parameters=parameters),
    )


class InteractionViewSet(TenantModelViewSet):
    """Interactions of the route's customer or lead (`holder`); an unknown holder is a
    404, another holder's interaction too."""

    model = Interaction
    filterset_class = InteractionFilter
    ordering_fields = ["date", "created_at", "next_action_date"]
    ordering = ["-date"]

    def get_holder(self) -> Any:
        """The route's customer or lead, or None (404)."""
        raise NotImplementedError

    @property
    def holder(self) -> Any:
        if not hasattr(self, "_holder"):
            holder = self.get_holder()
            if holder is None:
                raise NotFound()
            self._holder = holder
        return self._holder

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.holder  # noqa: B018  (an unknown holder is a 404 before validation)
        return super().create(request, *args, **kwargs)


@interaction_routes_schema("customer_pk", "The customer's UUID or its per-account number.")
class CustomerInteractionViewSet(InteractionViewSet):
    """A customer's interactions; another customer's interaction is a 404."""

    serializer_class = InteractionSerializer

    def get_holder(self) -> Customer | None:
        return selectors.customer_by_ref(self.account, self.kwargs["customer_pk"])

    def get_scoped_queryset(self) -> QuerySet[Interaction]:
        return selectors.interaction_list(self.account, self.holder)

    def perform_create(self, serializer: InteractionSerializer) -> None:
        serializer.instance = services.interaction_create(
            account=self.account, customer=self.holder, **serializer.validated_data
        )

    def perform_update(self, serializer: InteractionSerializer) -> None:
        serializer.instance = services.interaction_update(
            interaction=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Interaction) -> None:
        services.interaction_delete(interaction=instance)
