"""Every non-trivial read of orders, products and points of sale, and the look-ups the
orders API needs to resolve references given in a body (always within one account, so
another account's id is simply not found)."""

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from accounts.models import Account
from customers import selectors as customer_selectors
from customers.models import Customer
from orders.models import Order, PointOfSale, Product


def as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


MAX_NUMBER = 2**63 - 1  # a bigint column


def as_number(value: Any) -> int | None:
    """A per-account sequence number given as an integer or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_NUMBER:
        return value
    return None


def id_or_number_lookup(value: Any) -> dict[str, Any] | None:
    """How `{id}` in an order path (and `?customer=`) is matched: the UUID or the
    per-account number; None when the value is neither."""
    number = as_number(value)
    if number is not None:
        return {"number": number}
    pk = as_uuid(value)
    if pk is not None:
        return {"pk": pk}
    return None


# --- Products and points of sale ------------------------------------------------------


def product_list(account: Account) -> QuerySet[Product]:
    return Product.objects.filter(account=account)


def product_by_sku(account: Account, sku: str) -> Product | None:
    return Product.objects.filter(account=account, sku=sku).first()


def products_by_id(account: Account, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.pk: p for p in Product.objects.filter(account=account, pk__in=wanted)}


def products_by_sku(account: Account, skus: Iterable[str]) -> dict[str, Product]:
    wanted = set(skus)
    if not wanted:
        return {}
    return {p.sku: p for p in Product.objects.filter(account=account, sku__in=wanted)}


def pos_list(account: Account) -> QuerySet[PointOfSale]:
    return PointOfSale.objects.filter(account=account)


def pos_by_reference(account: Account, value: Any) -> PointOfSale | None:
    """A point of sale named by its id or its code."""
    pos_id = as_uuid(value)
    queryset = PointOfSale.objects.filter(account=account)
    if pos_id is not None:
        found = queryset.filter(pk=pos_id).first()
        if found is not None:
            return found
    return queryset.filter(code=str(value).strip()).first()


# --- Customers, as the orders API names them ------------------------------------------


def customer_by_reference(account: Account, value: Any) -> Customer | None:
    """A customer named by its id or its per-account number (JSON may give an int)."""
    if isinstance(value, bool) or not isinstance(value, str | int | uuid.UUID):
        return None
    return customer_selectors.customer_by_ref(account, str(value))


def customer_by_external_id(account: Account, external_id: str) -> Customer | None:
    if not external_id.strip():
        return None
    return customer_selectors.customer_lookup(account, external_id=external_id)


def customer_by_email(account: Account, email: str) -> Customer | None:
    """Emails compare case-insensitively."""
    if not email.strip():
        return None
    return customer_selectors.customer_lookup(account, email=email)


# --- Orders ---------------------------------------------------------------------------


def order_list(account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).prefetch_related("items")


def order_by_external_id(account: Account, external_id: str) -> Order | None:
    return Order.objects.filter(account=account, external_id=external_id).first()
