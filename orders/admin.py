"""Products, points of sale and orders in the admin, scoped like every tenant model
(crm_project.admin.TenantAdmin).

Orders are written through orders.services, as the API writes them: the order and its
items in one call, the amount the sum of the line totals, and the customer's spend
aggregates recomputed in the same transaction. The admin never saves an order or an
item row itself, so it cannot leave an aggregate out of date."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.models import Role
from crm_project.admin import TenantAdmin, TenantAdminForm, role_allows
from crm_project.counting import counted_paginator
from crm_project.errors import Conflict
from crm_project.models import TenantModel
from crm_project.phones import account_region
from customers import selectors as customer_selectors
from customers.models import Customer
from orders import services
from orders.models import Order, OrderItem, PointOfSale, Product


@admin.register(Product)
class ProductAdmin(TenantAdmin):
    list_display = ("sku", "name", "brand", "category", "price", "active")
    list_filter = ("active", "category", "brand")
    search_fields = ("sku", "name", "brand")
    fields = ("sku", "external_id", "name", ("brand", "category"), "price", "active")


@admin.register(PointOfSale)
class PointOfSaleAdmin(TenantAdmin):
    list_display = ("code", "name", "city")
    search_fields = ("code", "name", "city")
    fields = ("code", "name", "city")


# --- Orders ----------------------------------------------------------------------------


class TenantInline(admin.TabularInline):
    """An inline of tenant rows under a TenantAdmin: permissions from the role in the
    account (as TenantAdmin's), foreign keys offering the account's rows only."""

    view_role: str = Role.READ_ONLY
    write_role: str = Role.MEMBER

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.view_role) or role_allows(request, self.write_role)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.write_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.write_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.write_role)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        account = getattr(request, "account", None)
        if account is not None and issubclass(db_field.related_model, TenantModel):
            kwargs.setdefault(
                "queryset", db_field.related_model._default_manager.filter(account=account)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OrderItemFormSet(forms.BaseInlineFormSet):
    """Checks the lines as orders.services will price them, and keeps them as the
    service's input (`self.items`): a line naming a product takes its sku, and its
    name, brand and price unless given; a line without one needs a name and a price.
    With lines, the order's amount is their sum; without, the amount is required."""

    items: list[services.ItemInput]

    def clean(self) -> None:
        super().clean()
        order: Order = self.instance
        self.items = []
        total = Decimal("0.00")
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or (self.can_delete and data.get("DELETE")):
                continue
            product: Product | None = data.get("product")
            if product is not None and order.account_id and product.account_id != order.account_id:
                form.add_error("product", "Choose a product of the order's account.")
                continue
            unit_price = data.get("unit_price")
            if unit_price is None and product is not None:
                unit_price = product.price
            name = data.get("name") or (product.name if product is not None else "")
            if unit_price is None:
                form.add_error("unit_price", "A line without a product needs a unit price.")
            if not name:
                form.add_error("name", "A line without a product needs a name.")
            if unit_price is None or not name or data.get("quantity") is None:
                continue
            discount = data.get("discount_percent") or Decimal("0")
            total += services.line_total(
                unit_price=unit_price, quantity=data["quantity"], discount_percent=discount
            )
            item: services.ItemInput = {
                "product": product,
                "sku": data.get("sku") or "",
                "name": data.get("name") or "",
                "brand": data.get("brand") or "",
                "quantity": data["quantity"],
                "unit_price": data.get("unit_price"),
                "discount_percent": discount,
            }
            self.items.append(item)
        if total > services.MAX_MONEY:
            raise forms.ValidationError(f"The amount would exceed {services.MAX_MONEY}.")
        if not self.items and order.amount is None:
            raise forms.ValidationError("An order without items needs an amount.")


class OrderItemInline(TenantInline):
    model = OrderItem
    formset = OrderItemFormSet
    fields = (
        "product",
        "sku",
        "name",
        "brand",
        "quantity",
        "unit_price",
        "discount_percent",
        "line_total",
    )
    readonly_fields = ("line_total",)
    autocomplete_fields = ("product",)
    extra = 1
    verbose_name = "item"
    verbose_name_plural = "items (with items, the order's amount is the sum of their totals)"

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "unit_price" and field is not None:
            field.required = False  # a product's price by default
            field.help_text = "Empty: the product's price."
        return field


class OrderAdminForm(TenantAdminForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "amount" in self.fields:
            self.fields["amount"].required = False
            self.fields[
                "amount"
            ].help_text = "Required without items; with items it is the sum of their totals."


@admin.register(Order)
class OrderAdmin(TenantAdmin):
    form = OrderAdminForm
    inlines = (OrderItemInline,)
    list_display = (
        "number",
        "customer",
        "status",
        "channel",
        "amount",
        "currency",
        "ordered_at",
        "pos",
    )
    list_filter = ("status", "channel", "payment_method")
    list_select_related = ("customer", "pos")
    search_fields = ("external_id",)  # see get_search_results
    search_help_text = "Order number or external id, or the customer's name, email or phone."
    autocomplete_fields = ("customer",)
    readonly_fields = ("id", "number", "created_at", "updated_at")
    show_full_result_count = False  # and no COUNT(*) of millions of orders: get_paginator
    list_per_page = 50
    actions = ("cancel_orders", "refund_orders")
    fields = (
        "id",
        "number",
        "external_id",
        "customer",
        ("status", "channel"),
        ("pos", "payment_method"),
        ("amount", "currency"),
        "ordered_at",
        "loyalty_card",
        "shipping_address",
        "billing_address",
        "notes",
        ("created_at", "updated_at"),
    )

    def get_paginator(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Paginator:
        return counted_paginator(request, "orders")(*args, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(external_id=term)
        if term.isascii() and term.isdigit() and int(term) <= customer_selectors.MAX_NUMBER:
            condition |= Q(number=int(term))
        region = account_region(getattr(request, "account", None))
        customers = customer_selectors.with_search_fields(Customer.objects.all()).filter(
            customer_selectors.customer_search_filter(term, phone_region=region)
        )
        condition |= Q(customer__in=customers.values("pk"))
        return queryset.filter(condition), False

    # --- Writes through orders.services ------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Order, form: Any, change: bool) -> None:
        """Nothing yet: the order is written with its items in save_related, in one
        service call (the admin's view runs both in one transaction)."""
        if change and not self._owns(request, obj):
            raise PermissionDenied

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        items_formset = next(fs for fs in formsets if isinstance(fs, OrderItemFormSet))
        items = items_formset.items
        data = form.cleaned_data
        obj: Order = form.instance
        if change:
            self._update(obj, form, items if items_formset.has_changed() else None)
        else:
            account = getattr(request, "account", None) or data.get("account")
            if account is None:
                raise PermissionDenied
            fields = {
                name: data.get(name) for name in services.ORDER_INPUT_FIELDS if name in form.fields
            }
            customer = fields.pop("customer")
            amount = fields.pop("amount")
            created = services.order_create(
                account=account,
                customer=customer,
                items=items or None,
                amount=None if items else amount,
                id=obj.pk,
                **fields,
            )
            for name in ("account", "number", "amount", "created_at", "updated_at"):
                setattr(obj, name, getattr(created, name))
            obj._state.adding = False
            obj._state.db = created._state.db
        for formset in formsets:
            # What the admin's change message reads; the items were written above.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _update(self, obj: Order, form: Any, items: list[services.ItemInput] | None) -> None:
        changed = {
            name: getattr(obj, name)
            for name in form.changed_data
            if name in services.ORDER_INPUT_FIELDS
        }
        amount = changed.pop("amount", None)
        stored = Order.objects.get(pk=obj.pk)
        has_items = bool(items) if items is not None else stored.items.exists()
        with transaction.atomic():
            if items == []:  # every line removed: the amount given becomes the amount
                services.order_update(order=stored, items=[], **changed)
                stored = services.order_update(order=stored, amount=obj.amount)
            else:
                if not has_items and amount is not None:
                    changed["amount"] = amount
                stored = services.order_update(order=stored, items=items, **changed)
        obj.amount = stored.amount

    def delete_model(self, request: HttpRequest, obj: Order) -> None:
        services.order_delete(order=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            services.order_delete(order=order)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Order], action: str) -> None:
        service = {"cancel": services.order_cancel, "refund": services.order_refund}[action]
        done = 0
        for order in queryset:
            try:
                service(order=order)
            except Conflict as exc:
                self.message_user(request, f"{order}: {exc}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} order(s): {action} done.")

    @admin.action(description="Cancel selected orders (they stop counting)", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._transition(request, queryset, "cancel")

    @admin.action(description="Refund selected orders (they stop counting)", permissions=["change"])
    def refund_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._transition(request, queryset, "refund")
