from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from crm_project.api.bulk import MAX_BULK_ROWS, BulkResultSerializer, RowResult, run_bulk
from crm_project.api.pagination import PageOrCursorPagination
from crm_project.api.views import TenantModelViewSet, require_list
from crm_project.writes import CREATED
from orders import selectors, services
from orders.api.serializers import (
    OrderBulkSerializer,
    OrderSerializer,
    PointOfSaleSerializer,
    ProductBulkSerializer,
    ProductSerializer,
)
from orders.filters import OrderFilter, PointOfSaleFilter, ProductFilter
from orders.models import Order, PointOfSale, Product


class ProductViewSet(TenantModelViewSet):
    """Products of the account; `sku` is unique per account (409 on a duplicate)."""

    model = Product
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    ordering_fields = ["sku", "name", "brand", "category", "price", "created_at"]
    ordering = ["sku"]

    def get_scoped_queryset(self) -> Any:
        return selectors.product_list(self.account)

    def perform_create(self, serializer: ProductSerializer) -> None:
        serializer.instance = services.product_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: ProductSerializer) -> None:
        serializer.instance = services.product_update(
            product=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Product) -> None:
        services.product_delete(product=instance)

    @extend_schema(request=ProductBulkSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Upsert up to 1,000 products by `sku`: `{"products": [...]}`. A known sku is
        a partial update (`skipped` when nothing changes)."""
        rows = require_list(request.data, "products", max_rows=MAX_BULK_ROWS)
        context = self.get_serializer_context()

        def apply_row(row: dict) -> RowResult:
            sku = str(row.get("sku") or "").strip()
            existing = selectors.product_by_sku(self.account, sku) if sku else None
            serializer = ProductSerializer(
                existing, data=row, partial=existing is not None, context=context
            )
            serializer.is_valid(raise_exception=True)
            fields = dict(serializer.validated_data)
            product, outcome = services.product_upsert(
                account=self.account, sku=fields.pop("sku", sku), **fields
            )
            return RowResult(outcome, product.pk)

        return Response(run_bulk(rows, apply_row))


class PointOfSaleViewSet(TenantModelViewSet):
    """Points of sale; `code` is unique per account (409 on a duplicate). One with
    orders cannot be deleted (409)."""

    model = PointOfSale
    serializer_class = PointOfSaleSerializer
    filterset_class = PointOfSaleFilter
    ordering_fields = ["code", "name", "city", "created_at"]
    ordering = ["code"]

    def get_scoped_queryset(self) -> Any:
        return selectors.pos_list(self.account)

    def perform_create(self, serializer: PointOfSaleSerializer) -> None:
        serializer.instance = services.pos_create(account=self.account, **serializer.validated_data)

    def perform_update(self, serializer: PointOfSaleSerializer) -> None:
        serializer.instance = services.pos_update(
            pos=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: PointOfSale) -> None:
        services.pos_delete(pos=instance)


ORDER_ID = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The order's UUID or its per-account number.",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[ORDER_ID]),
    update=extend_schema(parameters=[ORDER_ID]),
    partial_update=extend_schema(parameters=[ORDER_ID]),
    destroy=extend_schema(parameters=[ORDER_ID]),
)
class OrderViewSet(TenantModelViewSet):
    """Orders. Every write keeps the customer's spend aggregates exact in the same
    transaction; `{id}` is the order's UUID or its number."""

    model = Order
    row_counter = "orders"
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    pagination_class = PageOrCursorPagination
    cursor_ordering = ("-ordered_at", "-id")
    ordering_fields = ["ordered_at", "amount", "number", "created_at"]
    ordering = ["-ordered_at", "-id"]

    def get_scoped_queryset(self) -> Any:
        return selectors.order_list(self.account)

    def get_object(self) -> Order:
        lookup = selectors.id_or_number_lookup(self.kwargs["pk"])
        if lookup is None:
            raise NotFound()
        order = get_object_or_404(self.get_queryset(), **lookup)
        self.check_object_permissions(self.request, order)
        return order

    def perform_create(self, serializer: OrderSerializer) -> None:
        serializer.instance = services.order_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: OrderSerializer) -> None:
        serializer.instance = services.order_update(
            order=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Order) -> None:
        services.order_delete(order=instance)

    def _state_change(self, change: Any) -> Response:
        order = change(order=self.get_object())
        return Response(self.get_serializer(order).data)

    @extend_schema(parameters=[ORDER_ID], request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel: the order stops counting. An already cancelled or a refunded order
        is a 409."""
        return self._state_change(services.order_cancel)

    @extend_schema(parameters=[ORDER_ID], request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def refund(self, request: Request, pk: str) -> Response:
        """Refund: the order stops counting. A cancelled or refunded order is a 409."""
        return self._state_change(services.order_refund)

    @extend_schema(parameters=[ORDER_ID], request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        """Complete an open order. A completed, cancelled or refunded order is a 409."""
        return self._state_change(services.order_complete)

    @extend_schema(request=OrderBulkSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Up to 1,000 orders: `{"orders": [...]}`. A row with an `external_id` upserts
        by it (a known one is a partial update, `skipped` when nothing changes); a row
        without one creates. Each affected customer's aggregates are refreshed once."""
        rows = require_list(request.data, "orders", max_rows=MAX_BULK_ROWS)
        context = self.get_serializer_context()

        def apply_row(row: dict) -> RowResult:
            external_id = str(row.get("external_id") or "").strip()
            existing = (
                selectors.order_by_external_id(self.account, external_id) if external_id else None
            )
            serializer = OrderSerializer(
                existing, data=row, partial=existing is not None, context=context
            )
            serializer.is_valid(raise_exception=True)
            fields = dict(serializer.validated_data)
            external_id = fields.pop("external_id", None) or external_id
            if not external_id:
                order = services.order_create(account=self.account, **fields)
                return RowResult(CREATED, order.pk)
            order, outcome = services.order_upsert(
                account=self.account, external_id=external_id, **fields
            )
            return RowResult(outcome, order.pk)

        with services.order_follow_ups_deferred(account=self.account):
            result = run_bulk(rows, apply_row)
        return Response(result)
