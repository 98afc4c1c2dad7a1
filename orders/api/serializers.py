"""Validation and shapes of the products, points of sale and orders API.

References inside a body (customer, pos, products) are resolved within the caller's
account: another account's id is "not found", a 400 naming the field, exactly like a
missing one. Prices, line totals and amounts are computed by `orders.services`."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from crm_project.api.fields import ModelSerializer, MoneyField
from orders import selectors
from orders.models import Order, OrderItem, PointOfSale, Product
from orders.services import ItemInput

MAX_ITEMS = 1000
MAX_QUANTITY = 1_000_000

# Seed compatibility: input keys read as another key (when that key is not also given).
ORDER_ALIASES = {
    "customer_id": "customer",
    "order_date": "ordered_at",
    "product_id": "product",
    "pos_id": "pos",
}
ITEM_ALIASES = {"product_id": "product"}


def _with_aliases(data: Any, aliases: Mapping[str, str]) -> Any:
    if not isinstance(data, Mapping):
        return data
    data = data.dict() if hasattr(data, "dict") else dict(data)  # a QueryDict: last values
    for alias, canonical in aliases.items():
        if alias in data:
            value = data.pop(alias)
            data.setdefault(canonical, value)
    return data


def _error(detail: str, code: str) -> list[ErrorDetail]:
    return [ErrorDetail(detail, code=code)]


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- Products and points of sale ------------------------------------------------------


class ProductSerializer(ModelSerializer):
    """A product; `sku` is unique per account."""

    price = MoneyField(max_digits=12, min_value=Decimal("0"), required=False)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "external_id",
            "name",
            "brand",
            "category",
            "price",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The unique indexes decide (409), not a check in Python.
        validators: list = []

    def validate_sku(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value

    def validate_external_id(self, value: str | None) -> str | None:
        return _blank_to_none(value)


class ProductBulkSerializer(serializers.Serializer):
    """For the schema: the body of `POST /products/bulk/`."""

    products = ProductSerializer(many=True)


class PointOfSaleSerializer(ModelSerializer):
    """A point of sale (a store, a till); `code` is unique per account."""

    class Meta:
        model = PointOfSale
        fields = ["id", "code", "name", "city", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []

    def validate_code(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value


# --- Orders ---------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.UUID)
class CustomerReferenceField(serializers.Field):
    """The order's customer: its id, or on input also its per-account number."""

    default_error_messages = {
        "invalid": "Give a customer id or number.",
        "does_not_exist": "Customer not found.",
    }

    def get_attribute(self, instance: Order) -> Any:
        return instance.customer_id

    def to_representation(self, value: Any) -> str:
        return str(value)

    def to_internal_value(self, data: Any) -> Any:
        if selectors.id_or_number_lookup(data) is None:
            self.fail("invalid")
        customer = selectors.customer_by_reference(self.context["account"], data)
        if customer is None:
            self.fail("does_not_exist")
        return customer


@extend_schema_field(OpenApiTypes.UUID)
class PointOfSaleReferenceField(serializers.Field):
    """The order's point of sale: its id, or on input also its code."""

    default_error_messages = {
        "invalid": "Give a point of sale id or code.",
        "does_not_exist": "Point of sale not found.",
    }

    def get_attribute(self, instance: Order) -> Any:
        return instance.pos_id

    def to_representation(self, value: Any) -> str:
        return str(value)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int) or isinstance(data, bool) or not str(data).strip():
            self.fail("invalid")
        pos = selectors.pos_by_reference(self.context["account"], data)
        if pos is None:
            self.fail("does_not_exist")
        return pos


class _ItemListSerializer(serializers.ListSerializer):
    """An error about the list itself (not a list, empty, too long) is reported on
    `items`, not `items.non_field_errors`."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict) and set(detail) == {api_settings.NON_FIELD_ERRORS_KEY}:
                raise serializers.ValidationError(
                    detail[api_settings.NON_FIELD_ERRORS_KEY]
                ) from None
            raise


class OrderItemSerializer(ModelSerializer):
    """An order line. `line_total` = unit_price x quantity x (1 - discount_percent/100),
    rounded half-up to cents."""

    product = serializers.UUIDField(
        source="product_id",
        required=False,
        allow_null=True,
        help_text="A product of the account (alias `product_id`). Its sku is the line's, "
        "and its name, brand and price are the line's unless given.",
    )
    sku = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Names a product of the account by sku; a sku that matches none makes a "
        "free-text line (then `name` and `unit_price` are required).",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = MoneyField(max_digits=12, min_value=Decimal("0"), required=False, allow_null=True)
    discount_percent = MoneyField(
        max_digits=5, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )

    class Meta:
        model = OrderItem
        fields = [
            "product",
            "sku",
            "name",
            "brand",
            "quantity",
            "unit_price",
            "discount_percent",
            "line_total",
        ]
        read_only_fields = ["line_total"]
        list_serializer_class = _ItemListSerializer

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(_with_aliases(data, ITEM_ALIASES))


class OrderSerializer(ModelSerializer):
    """An order. On input the customer is `customer` (id or number; alias
    `customer_id`), or `customer_external_id`, or `customer_email`, tried in that order.
    With `items`, the amount is the sum of their line totals; without, `amount` is
    required. Seed 004's `product` (alias `product_id`) and `quantity` make one item."""

    customer = CustomerReferenceField(required=False)
    customer_external_id = serializers.CharField(
        write_only=True, required=False, max_length=100, help_text="Names the customer."
    )
    customer_email = serializers.CharField(
        write_only=True, required=False, max_length=254, help_text="Names the customer."
    )
    pos = PointOfSaleReferenceField(required=False, allow_null=True)
    items = OrderItemSerializer(many=True, required=False, allow_empty=False, max_length=MAX_ITEMS)
    product = serializers.UUIDField(
        write_only=True,
        required=False,
        help_text="Seed 004's one-product order (with `quantity`, default 1), instead of `items`.",
    )
    quantity = serializers.IntegerField(
        write_only=True, required=False, min_value=1, max_value=MAX_QUANTITY
    )
    amount = MoneyField(
        max_digits=14,
        min_value=Decimal("0"),
        required=False,
        help_text="Required without items; with items, the sum of their line totals.",
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "external_id",
            "customer",
            "customer_external_id",
            "customer_email",
            "status",
            "channel",
            "pos",
            "payment_method",
            "currency",
            "ordered_at",
            "items",
            "product",
            "quantity",
            "amount",
            "loyalty_card",
            "shipping_address",
            "billing_address",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "number", "created_at", "updated_at"]
        extra_kwargs = {
            "ordered_at": {"required": False, "help_text": "Alias `order_date`; default now."}
        }
        validators: list = []

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(_with_aliases(data, ORDER_ALIASES))

    def validate_external_id(self, value: str | None) -> str | None:
        return _blank_to_none(value)

    def validate_currency(self, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 3 or not value.isalpha() or not value.isascii():
            raise serializers.ValidationError("Use a three-letter ISO 4217 code.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        creating = self.instance is None
        self._resolve_customer(attrs, errors, creating=creating)
        if "items" in attrs:
            attrs["items"] = self._resolve_items(attrs["items"], errors)
        self._resolve_single_product(attrs, errors)
        lines_named = "items" in attrs or "items" in errors or "product" in errors
        if creating and not lines_named and attrs.get("amount") is None:
            errors.setdefault(
                "amount", _error("An order without items needs an amount.", "required")
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _resolve_customer(
        self, attrs: dict[str, Any], errors: dict[str, Any], *, creating: bool
    ) -> None:
        account = self.context["account"]
        customer = attrs.pop("customer", None)
        external_id = attrs.pop("customer_external_id", None)
        email = attrs.pop("customer_email", None)
        if customer is None and external_id is not None:
            customer = selectors.customer_by_external_id(account, external_id)
            if customer is None:
                errors["customer_external_id"] = _error("Customer not found.", "does_not_exist")
                return
        if customer is None and email is not None:
            customer = selectors.customer_by_email(account, email)
            if customer is None:
                errors["customer_email"] = _error("Customer not found.", "does_not_exist")
                return
        if customer is not None:
            attrs["customer"] = customer
        elif creating:
            errors["customer"] = _error(
                "Name the customer: customer, customer_external_id or customer_email.",
                "required",
            )

    def _resolve_items(self, items: list[dict[str, Any]], errors: dict[str, Any]) -> list:
        """The lines with their products resolved in one query per kind of reference;
        errors are reported per line (`items.2.product`)."""
        account = self.context["account"]
        by_id = selectors.products_by_id(
            account, [i["product_id"] for i in items if i.get("product_id")]
        )
        by_sku = selectors.products_by_sku(
            account, [i["sku"].strip() for i in items if i.get("sku") and not i.get("product_id")]
        )
        resolved: list[ItemInput] = []
        item_errors: list[dict[str, Any]] = []
        for raw in items:
            item = dict(raw)
            error: dict[str, Any] = {}
            product_id = item.pop("product_id", None)
            sku = (item.pop("sku", None) or "").strip()
            product = None
            if product_id is not None:
                product = by_id.get(product_id)
                if product is None:
                    error["product"] = _error("Product not found.", "does_not_exist")
                elif sku and sku != product.sku:
                    error["sku"] = _error("Does not match the product's sku.", "sku_mismatch")
            elif sku:
                product = by_sku.get(sku)
            if product is None and not error:
                if not (item.get("name") or "").strip():
                    error["name"] = _error(
                        "A line without a known product needs a name.", "required"
                    )
                if item.get("unit_price") is None:
                    error["unit_price"] = _error(
                        "A line without a known product needs a unit_price.", "required"
                    )
            item_errors.append(error)
            resolved.append(ItemInput(product=product, sku=sku, **item))
        if any(item_errors):
            errors["items"] = item_errors
        return resolved

    def _resolve_single_product(self, attrs: dict[str, Any], errors: dict[str, Any]) -> None:
        product_id = attrs.pop("product", None)
        quantity = attrs.pop("quantity", None)
        if product_id is None and quantity is None:
            return
        if "items" in attrs or "items" in errors:
            errors["product"] = _error(
                "Send items, or product and quantity, not both.", "items_and_product"
            )
            return
        if product_id is None:
            errors["product"] = _error("quantity needs a product.", "required")
            return
        product = selectors.products_by_id(self.context["account"], [product_id]).get(product_id)
        if product is None:
            errors["product"] = _error("Product not found.", "does_not_exist")
            return
        attrs["items"] = [ItemInput(product=product, quantity=quantity or 1)]


class OrderBulkSerializer(serializers.Serializer):
    """For the schema: the body of `POST /orders/bulk/` (upsert by external_id)."""

    orders = OrderSerializer(many=True)
