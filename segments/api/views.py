from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.pagination import PageNumberPagination
from crm_project.api.views import TenantGenericViewSet, TenantModelViewSet
from customers.models import Customer
from segments import catalog, selectors, services
from segments.api.serializers import (
    PreviewSerializer,
    RuleInputSerializer,
    SegmentCustomerSerializer,
    SegmentSerializer,
)
from segments.filters import SegmentCustomerFilter, SegmentFilter, SortDirectionOrdering
from segments.models import Segment


class SegmentPagination(PageNumberPagination):
    """`?page=N&page_size=M`, with seed 003's `perPage` as an alias of `page_size`."""

    page_size_aliases = ("perPage", "per_page")


SEGMENT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
NO_CONTENT = {204: OpenApiResponse(description="Done (also when it already was).")}


@extend_schema_view(
    update=extend_schema(description="Partial, like PATCH."),
    create=extend_schema(
        description="Give the rule as `rules` or as Open Loyalty `parts`. The segment is "
        "counted at once (`customers_count`, `counted_at`)."
    ),
)
class SegmentViewSet(TenantModelViewSet):
    """Rule-based segments of the account's customers (seed 003's segment API)."""

    model = Segment
    serializer_class = SegmentSerializer
    write_role = Role.MEMBER
    pagination_class = SegmentPagination
    filterset_class = SegmentFilter
    filter_backends = [DjangoFilterBackend, SortDirectionOrdering]
    ordering_fields = [
        "name",
        "active",
        "customers_count",
        "counted_at",
        "created_at",
        "updated_at",
    ]
    ordering = ["name"]

    def get_scoped_queryset(self) -> QuerySet[Segment]:
        return selectors.segment_list(self.account)

    def perform_create(self, serializer: SegmentSerializer) -> None:
        serializer.instance = services.segment_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: SegmentSerializer) -> None:
        serializer.instance = services.segment_update(
            segment=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Segment) -> None:
        services.segment_delete(segment=instance)

    @extend_schema(request=None, responses=NO_CONTENT)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        """Campaigns, `/customers/{id}/segments/` and the periodic count use it again;
        it is counted now."""
        services.segment_activate(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=NO_CONTENT)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        """Kept, readable and previewable, but no longer used nor counted periodically."""
        services.segment_deactivate(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RuleInputSerializer, responses=PreviewSerializer)
    @action(detail=False, methods=["post"], write_role=Role.READ_ONLY)
    def preview(self, request: Request) -> Response:
        """How many customers a rule selects now, and the first 10. Saves nothing:
        every role may call it."""
        query = RuleInputSerializer(data=request.data, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        preview = selectors.rule_preview(self.account, query.validated_data["rules"])
        return Response(PreviewSerializer(preview, context=self.get_serializer_context()).data)

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The catalog.")},
        filters=False,
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def fields(self, request: Request) -> Response:
        """The rule language's catalog: fields and their types, operators per type,
        criterion types and their parameters, limits."""
        return Response(catalog.field_catalog())


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("segment_pk", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter("firstName", OpenApiTypes.STR, description="Alias of first_name."),
            OpenApiParameter("lastName", OpenApiTypes.STR, description="Alias of last_name."),
        ]
    )
)
class SegmentCustomerViewSet(mixins.ListModelMixin, TenantGenericViewSet):
    """A segment's customers now, whether it is active or not (seed 003)."""

    model = Customer
    serializer_class = SegmentCustomerSerializer
    pagination_class = SegmentPagination
    filterset_class = SegmentCustomerFilter
    filter_backends = [DjangoFilterBackend, SortDirectionOrdering]
    ordering_fields = [
        "name",
        "last_name",
        "first_name",
        "email",
        "phone",
        "city",
        "number",
        "created_at",
        "lifetime_spend",
        "total_orders",
    ]
    ordering_aliases = {"name": ("last_name", "first_name")}
    ordering = ["last_name", "first_name"]

    def get_scoped_queryset(self) -> QuerySet[Customer]:
        segment = selectors.segment_get(self.account, self.kwargs["segment_pk"])
        if segment is None:
            raise NotFound()
        return selectors.segment_customers(self.account, segment)
