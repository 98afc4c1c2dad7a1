"""Every write of orders, products and points of sale, and the customer spend aggregates
they maintain.

Lock order, kept by every write so concurrent writers cannot deadlock: the order row,
then the loyalty cards its points move (in id order, loyalty.services), then the
customer rows, last and in id order (`customer_aggregates_refresh`). Order
numbers come from the account's sequence, which holds no lock past the call
(accounts.services.sequence_reserve)."""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, TypedDict

from django.db import connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import Account
from accounts.services import sequence_reserve
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.tenancy import account_scope
from crm_project.writes import CREATED, SKIPPED, UPDATED, unique_conflicts
from customers import selectors as customer_selectors
from customers.models import Customer
from loyalty import services as loyalty_services
from orders.models import (
    UNCOUNTED_STATUSES,
    Order,
    OrderItem,
    OrderStatus,
    PointOfSale,
    Product,
)

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# The largest amount the money columns hold (14 digits, 2 places).
MAX_MONEY = Decimal("999999999999.99")


# --- Customer spend aggregates --------------------------------------------------------


# The spend aggregates and the 365-day order statistics (Customer.orders_365d and
# after) of the customers the caller names ({orders_only}, {customers_only}): only rows
# whose figures changed are rewritten; a buyer's statistics are dated today (in the
# account's timezone) and hold until the day their oldest order leaves the window.
_AGGREGATES_SQL = """
WITH zone AS (
    SELECT timezone AS tz, (now() AT TIME ZONE timezone)::date AS today
      FROM {accounts} WHERE id = %s
), agg AS (
    SELECT o.customer_id, sum(o.amount) AS total, count(*) AS n,
           min(o.ordered_at) AS first_at, max(o.ordered_at) AS last_at,
           count(*) FILTER (WHERE (o.ordered_at AT TIME ZONE z.tz)::date >= z.today - 365)
               AS n365,
           coalesce(sum(o.amount) FILTER (
               WHERE (o.ordered_at AT TIME ZONE z.tz)::date >= z.today - 365), 0) AS spend365,
           min((o.ordered_at AT TIME ZONE z.tz)::date) FILTER (
               WHERE (o.ordered_at AT TIME ZONE z.tz)::date >= z.today - 365) + 366 AS until365
      FROM {orders} o CROSS JOIN zone z
     WHERE o.account_id = %s AND o.status <> ALL(%s) {orders_only}
     GROUP BY o.customer_id
), target AS (
    SELECT c2.id, COALESCE(agg.total, 0) AS total, COALESCE(agg.n, 0) AS n,
           agg.total / NULLIF(agg.n, 0) AS average,
           agg.first_at, agg.last_at,
           COALESCE(agg.n365, 0) AS n365, COALESCE(agg.spend365, 0) AS spend365,
           agg.until365, CASE WHEN agg.n > 0 THEN (SELECT today FROM zone) END AS day
      FROM {customers} c2 LEFT JOIN agg ON agg.customer_id = c2.id
     WHERE c2.account_id = %s {customers_only}
)
UPDATE {customers} c
   SET lifetime_spend = t.total, total_orders = t.n,
       average_order_value = t.average,
       first_order_date = t.first_at, last_order_date = t.last_at,
       orders_365d = t.n365, spend_365d = t.spend365,
       stats_day = t.day, stats_until = t.until365
  FROM target t
 WHERE c.id = t.id AND c.account_id = %s
   AND (c.lifetime_spend, c.total_orders, c.average_order_value,
        c.first_order_date, c.last_order_date,
        c.orders_365d, c.spend_365d, c.stats_day, c.stats_until)
       IS DISTINCT FROM
       (t.total, t.n, t.average::numeric(20, 6), t.first_at, t.last_at,
        t.n365, t.spend365, t.day, t.until365)
"""


def customer_aggregates_refresh(*, account_id: Any, customer_ids: Iterable[Any] | None) -> None:
    """Recompute the spend aggregates of these customers (None: every customer of the
    account, for set-based writers such as imports and demo data) from their counted
    orders, in SQL, inside the caller's transaction. The customer rows are locked first
    (in id order, so concurrent writers cannot deadlock) and stay locked until commit:
    two transactions writing orders of one customer take turns, and the last one to
    commit computes from everything committed before it. Rows whose aggregates are
    already right are not rewritten."""
    # `only(column)`: the SQL restricting `column` to the given customers, if any.
    ids: list[str] = []
    if customer_ids is not None:
        ids = sorted({str(pk) for pk in customer_ids if pk is not None})
        if not ids:
            return

    def only(column: str) -> str:
        return f"AND {column} = ANY(%s::uuid[])" if customer_ids is not None else ""

    id_params = [ids] if customer_ids is not None else []
    customers = Customer._meta.db_table
    orders = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {customers} WHERE account_id = %s {only('id')} "  # noqa: S608
            "ORDER BY id FOR UPDATE",
            [account_id, *id_params],
        )
        cursor.execute(
            _AGGREGATES_SQL.format(
                customers=customers,
                orders=orders,
                accounts=Account._meta.db_table,
                orders_only=only("customer_id"),
                customers_only=only("c2.id"),
            ),
            [
                account_id,
                account_id,
                list(UNCOUNTED_STATUSES),
                *id_params,
                account_id,
                *id_params,
                account_id,
            ],
        )


# Customers refreshed per statement by customer_order_stats_refresh.
STATS_BATCH = 10_000


def customer_order_stats_refresh(*, account: Account) -> int:
    """Date again the 365-day order statistics of the account's buyers whose statistics
    are due (customers.selectors.customers_with_order_stats_due: an order of theirs left
    the window, or the account's timezone changed), through the aggregates' own
    refresh, a batch per transaction (call it outside any scope: each batch opens the
    account's, so a timezone change's hundreds of thousands of buyers are not locked in
    one transaction); answers how many customers were due."""
    with account_scope(account):
        due = customer_selectors.customers_with_order_stats_due(account)
    for start in range(0, len(due), STATS_BATCH):
        with account_scope(account):
            customer_aggregates_refresh(
                account_id=account.pk, customer_ids=due[start : start + STATS_BATCH]
            )
    return len(due)


@dataclass
class _Deferred:
    """What the order writes inside `order_follow_ups_deferred()` leave to its end."""

    account: Account
    customers: set[Any] = field(default_factory=set)
    orders: set[Any] = field(default_factory=set)


_deferred: ContextVar[_Deferred | None] = ContextVar("orders_deferred", default=None)


@contextmanager
def order_follow_ups_deferred(*, account: Account) -> Iterator[None]:
    """Order writes inside the block note what follows them instead of doing it one
    write at a time (bulk endpoints); the block's end, in the same transaction, earns
    and reverses the noted orders' loyalty points set-based
    (loyalty.services.orders_earn / orders_reverse), then refreshes each affected
    customer's aggregates once. Nothing follows if the block raises: its transaction
    rolls back."""
    pending = _Deferred(account=account)
    with transaction.atomic():
        token = _deferred.set(pending)
        try:
            yield
        finally:
            _deferred.reset(token)
        orders_loyalty_follow(account=account, order_ids=pending.orders)
        customer_aggregates_refresh(account_id=account.pk, customer_ids=pending.customers)


def orders_loyalty_follow(*, account: Account, order_ids: Iterable[Any]) -> None:
    """Loyalty follows a batch of written orders (bulk writes, an import's chunk), in
    the caller's transaction: those now completed or delivered earn once, set-based
    (one query, one statement); those cancelled or refunded reverse what they earned,
    one statement each (each takes what the previous one left on the card)."""
    order_ids = list(order_ids)
    if order_ids:
        loyalty_services.orders_earn(account=account, order_ids=order_ids)
        loyalty_services.orders_reverse(account=account, order_ids=order_ids)


def _deferring(account_id: Any) -> _Deferred | None:
    deferred = _deferred.get()
    if deferred is not None and str(deferred.account.pk) == str(account_id):
        return deferred
    return None


def _aggregates_refresh(*, account_id: Any, customer_ids: Iterable[Any]) -> None:
    deferred = _deferring(account_id)
    if deferred is not None:
        deferred.customers.update(pk for pk in customer_ids if pk is not None)
        return
    customer_aggregates_refresh(account_id=account_id, customer_ids=customer_ids)


# --- Money ----------------------------------------------------------------------------


def line_total(*, unit_price: Decimal, quantity: int, discount_percent: Decimal) -> Decimal:
    """unit_price x quantity x (1 - discount/100), rounded half-up to cents. Exact
    Decimal arithmetic: the precision covers the widest inputs the columns allow."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = unit_price * quantity * (HUNDRED - discount_percent) / HUNDRED
        return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def _required(detail: str) -> list[FieldError]:
    return [FieldError(detail, code="required")]


def _too_large(detail: str) -> FieldError:
    return FieldError(detail, code="max_value")


class ItemInput(TypedDict, total=False):
    """One order line as validated by the API. `product` is a product of the order's
    account (resolved from its id or sku); without one, `name` and `unit_price` are
    required and the line is free text."""

    product: Product | None
    sku: str
    name: str
    brand: str
    quantity: int
    unit_price: Decimal | None
    discount_percent: Decimal


def _price_items(*, account_id: Any, items: Sequence[ItemInput]) -> tuple[list[OrderItem], Decimal]:
    """Unsaved order items with their line totals, and the order amount (their sum).
    A line naming a product takes its sku, and its name, brand and price unless given."""
    lines: list[OrderItem] = []
    errors: list[dict[str, list[FieldError]]] = []
    for position, item in enumerate(items):
        product = item.get("product")
        unit_price = item.get("unit_price")
        if unit_price is None and product is not None:
            unit_price = product.price
        name = item.get("name") or (product.name if product is not None else "")
        if unit_price is None or not name:
            error: dict[str, list[FieldError]] = {}
            if unit_price is None:
                error["unit_price"] = _required(
                    "A line without a known product needs a unit_price."
                )
            if not name:
                error["name"] = _required("A line without a known product needs a name.")
            errors.append(error)
            continue
        quantity = item["quantity"]
        discount = item.get("discount_percent") or Decimal("0")
        total = line_total(unit_price=unit_price, quantity=quantity, discount_percent=discount)
        if total > MAX_MONEY:
            errors.append({"quantity": [_too_large(f"The line total would exceed {MAX_MONEY}.")]})
            continue
        errors.append({})
        lines.append(
            OrderItem(
                account_id=account_id,
                product=product,
                sku=product.sku if product is not None else item.get("sku", ""),
                name=name,
                brand=item.get("brand") or (product.brand if product is not None else ""),
                quantity=quantity,
                unit_price=unit_price,
                discount_percent=discount,
                line_total=total,
                position=position,
            )
        )
    if any(errors):
        raise Invalid({"items": errors})
    amount = sum((line.line_total for line in lines), Decimal("0.00"))
    if amount > MAX_MONEY:
        raise Invalid({"amount": [_too_large(f"The amount would exceed {MAX_MONEY}.")]})
    return lines, amount


def _check_amount(given: Decimal | None, computed: Decimal) -> None:
    if given is not None and given != computed:
        detail = f"The amount must be the sum of the line totals, {computed}."
        raise Invalid({"amount": [FieldError(detail, code="amount_mismatch")]})


def _item_key(item: OrderItem) -> tuple[Any, ...]:
    return (
        item.product_id,
        item.sku,
        item.name,
        item.brand,
        item.quantity,
        item.unit_price,
        item.discount_percent,
        item.line_total,
    )


# --- Orders ---------------------------------------------------------------------------

# An order's own fields a write takes (besides its items): the API, the admin's form and
# the import all read this list.
ORDER_INPUT_FIELDS = (
    "external_id",
    "customer",
    "status",
    "channel",
    "pos",
    "payment_method",
    "currency",
    "ordered_at",
    "amount",
    "loyalty_card",
    "shipping_address",
    "billing_address",
    "notes",
)


def _unique_order_external_id(external_id: Any) -> AbstractContextManager[None]:
    """The unique index decides; its violation becomes a 409 naming the value."""
    return unique_conflicts(
        {
            "order_unique_external_id": lambda: Conflict(
                f"An order with external_id {external_id!r} exists.",
                code="duplicate_external_id",
            )
        }
    )


def _order_insert(
    *,
    account: Account,
    customer: Customer | None = None,
    items: Sequence[ItemInput] | None = None,
    amount: Decimal | None = None,
    ordered_at: datetime | None = None,
    **fields: Any,
) -> Order:
    if customer is None:
        raise Invalid({"customer": _required("An order needs a customer.")})
    lines: list[OrderItem] = []
    if items:
        lines, computed = _price_items(account_id=account.pk, items=items)
        _check_amount(amount, computed)
        amount = computed
    elif amount is None:
        raise Invalid({"amount": _required("An order without items needs an amount.")})
    with _unique_order_external_id(fields.get("external_id")):
        order = Order.objects.create(
            account=account,
            number=sequence_reserve(account_id=account.pk, name="order"),
            customer=customer,
            amount=amount,
            ordered_at=ordered_at or timezone.now(),
            **fields,
        )
    for line in lines:
        line.order = order
    OrderItem.objects.bulk_create(lines)
    return order


@transaction.atomic
def order_create(
    *,
    account: Account,
    customer: Customer,
    items: Sequence[ItemInput] | None = None,
    amount: Decimal | None = None,
    ordered_at: datetime | None = None,
    **fields: Any,
) -> Order:
    """A new order with the account's next number. With items, the amount is the sum of
    their line totals (a given amount must agree); without, the amount is required."""
    order = _order_insert(
        account=account,
        customer=customer,
        items=items,
        amount=amount,
        ordered_at=ordered_at,
        **fields,
    )
    _aggregates_refresh(account_id=account.pk, customer_ids=[order.customer_id])
    _loyalty_follow(order)
    return order


def _differs(order: Order, name: str, value: Any) -> bool:
    field = Order._meta.get_field(name)
    if isinstance(field, models.ForeignKey):
        return getattr(order, field.attname) != (value.pk if value is not None else None)
    return getattr(order, name) != value


def _order_change(
    *, order: Order, items: Sequence[ItemInput] | None, fields: dict[str, Any]
) -> tuple[Order, bool]:
    """Apply a partial update to the locked order: (fresh order, changed?)."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    old_customer_id = locked.customer_id
    amount: Decimal | None = fields.pop("amount", None)
    changed = False
    if items is not None:
        lines, computed = _price_items(account_id=locked.account_id, items=items)
        _check_amount(amount, computed)
        current = list(OrderItem.objects.filter(order=locked).order_by("position"))
        if [_item_key(i) for i in current] != [_item_key(i) for i in lines]:
            OrderItem.objects.filter(order=locked).delete()
            for line in lines:
                line.order = locked
            OrderItem.objects.bulk_create(lines)
            changed = True
        fields["amount"] = computed
    elif amount is not None:
        if OrderItem.objects.filter(order=locked).exists():
            _check_amount(amount, locked.amount)
        fields["amount"] = amount
    updates = {name: value for name, value in fields.items() if _differs(locked, name, value)}
    for name, value in updates.items():
        setattr(locked, name, value)
    if updates or changed:
        with _unique_order_external_id(locked.external_id):
            locked.save()
        _aggregates_refresh(
            account_id=locked.account_id, customer_ids=[old_customer_id, locked.customer_id]
        )
        if "status" in updates:
            _loyalty_follow(locked)
        return locked, True
    return locked, False


@transaction.atomic
def order_update(*, order: Order, items: Sequence[ItemInput] | None = None, **fields: Any) -> Order:
    """A partial update: fields not given are unchanged. Items given replace all items
    and the amount becomes their sum; an order with items keeps the amount they make.
    The old and the new customer's aggregates are recomputed."""
    updated, _changed = _order_change(order=order, items=items, fields=fields)
    return updated


@transaction.atomic
def order_upsert(
    *, account: Account, external_id: str, items: Sequence[ItemInput] | None = None, **fields: Any
) -> tuple[Order, str]:
    """Create or update the order with `external_id`: (order, created|updated|skipped).
    Concurrent upserts of one new id: the loser's insert hits the unique index and
    retries as an update."""
    for _attempt in range(2):
        existing = (
            Order.objects.select_for_update()
            .filter(account=account, external_id=external_id)
            .first()
        )
        if existing is None:
            try:
                order = _order_insert(
                    account=account, external_id=external_id, items=items, **fields
                )
            except Conflict:  # created meanwhile by a concurrent writer: update it
                continue
            _aggregates_refresh(account_id=account.pk, customer_ids=[order.customer_id])
            _loyalty_follow(order)
            return order, CREATED
        order, changed = _order_change(order=existing, items=items, fields=dict(fields))
        return order, UPDATED if changed else SKIPPED
    raise Conflict(f"Order {external_id!r} is being written concurrently.", code="conflict")


@transaction.atomic
def order_delete(*, order: Order) -> None:
    locked = Order.objects.select_for_update().filter(pk=order.pk).first()
    if locked is None:
        return
    # Points it earned are taken back first; the ledger keeps the order's id.
    loyalty_services.order_reverse(account=locked.account, order=locked, why="deleted")
    customer_id = locked.customer_id
    locked.delete()
    _aggregates_refresh(account_id=locked.account_id, customer_ids=[customer_id])


# An order first reaching one of these earns loyalty points.
EARNING_STATUSES = (OrderStatus.COMPLETED, OrderStatus.DELIVERED)

_OPEN = frozenset(OrderStatus.values) - frozenset(UNCOUNTED_STATUSES)

# The statuses each state change starts from, and where it leads.
ORDER_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "cancel": (_OPEN, OrderStatus.CANCELLED),
    "refund": (_OPEN, OrderStatus.REFUNDED),
    "complete": (_OPEN - {OrderStatus.COMPLETED}, OrderStatus.COMPLETED),
}


def _order_transition(*, order: Order, action: str) -> Order:
    """A conditional UPDATE (`... WHERE status IN (sources)`): of two concurrent
    cancels one wins and the other is a 409."""
    sources, target = ORDER_TRANSITIONS[action]
    changed = Order.objects.filter(pk=order.pk, status__in=sources).update(
        status=target, updated_at=timezone.now()
    )
    fresh = Order.objects.get(pk=order.pk)
    if not changed:
        raise Conflict(f"Cannot {action} an order that is {fresh.status}.", code="invalid_status")
    _aggregates_refresh(account_id=fresh.account_id, customer_ids=[fresh.customer_id])
    _loyalty_follow(fresh)
    return fresh


@transaction.atomic
def order_cancel(*, order: Order) -> Order:
    """Cancelled orders stop counting; cancelling a cancelled or refunded order is 409."""
    return _order_transition(order=order, action="cancel")


@transaction.atomic
def order_refund(*, order: Order) -> Order:
    """Refunded orders stop counting; refunding a cancelled or refunded order is 409."""
    return _order_transition(order=order, action="refund")


@transaction.atomic
def order_complete(*, order: Order) -> Order:
    """Complete an open order; a completed, cancelled or refunded one is 409."""
    return _order_transition(order=order, action="complete")


def _loyalty_follow(order: Order) -> None:
    """Loyalty follows the status the order now has, in the same transaction (SPEC:
    Loyalty): completed or delivered earns once, cancelled or refunded reverses what it
    earned (inside `order_follow_ups_deferred()`, at the block's end, set-based)."""
    deferred = _deferring(order.account_id)
    if deferred is not None:
        deferred.orders.add(order.pk)
        return
    if order.status in EARNING_STATUSES:
        loyalty_services.order_earn(account=order.account, order=order)
    elif order.status in UNCOUNTED_STATUSES:
        loyalty_services.order_reverse(account=order.account, order=order)


# --- Products -------------------------------------------------------------------------


def _unique_product(*, sku: Any, external_id: Any) -> AbstractContextManager[None]:
    """The unique indexes decide; a violation becomes a 409 naming the value."""
    return unique_conflicts(
        {
            "product_unique_sku": lambda: Conflict(
                f"A product with sku {sku!r} exists.", code="duplicate_sku"
            ),
            "product_unique_external_id": lambda: Conflict(
                f"A product with external_id {external_id!r} exists.",
                code="duplicate_external_id",
            ),
        }
    )


@transaction.atomic
def product_create(*, account: Account, sku: str, **fields: Any) -> Product:
    with _unique_product(sku=sku, external_id=fields.get("external_id")):
        return Product.objects.create(account=account, sku=sku, **fields)


@transaction.atomic
def product_update(*, product: Product, **fields: Any) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    with _unique_product(sku=product.sku, external_id=product.external_id):
        product.save()
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Order lines keep their sku, name, brand and prices; they lose the link."""
    product.delete()


@transaction.atomic
def product_upsert(*, account: Account, sku: str, **fields: Any) -> tuple[Product, str]:
    """Create or update the product with `sku`: (product, created|updated|skipped)."""
    for _attempt in range(2):
        product = Product.objects.select_for_update().filter(account=account, sku=sku).first()
        if product is None:
            try:
                return product_create(account=account, sku=sku, **fields), CREATED
            except Conflict as exc:
                if exc.code == "duplicate_sku":
                    continue
                raise
        changed = {k: v for k, v in fields.items() if getattr(product, k) != v}
        if not changed:
            return product, SKIPPED
        return product_update(product=product, **changed), UPDATED
    raise Conflict(f"Product {sku!r} is being written concurrently.", code="conflict")


# --- Points of sale -------------------------------------------------------------------


def _unique_pos_code(code: Any) -> AbstractContextManager[None]:
    return unique_conflicts(
        {
            "pos_unique_code": lambda: Conflict(
                f"A point of sale with code {code!r} exists.", code="duplicate_code"
            )
        }
    )


@transaction.atomic
def pos_create(*, account: Account, code: str, **fields: Any) -> PointOfSale:
    with _unique_pos_code(code):
        return PointOfSale.objects.create(account=account, code=code, **fields)


@transaction.atomic
def pos_update(*, pos: PointOfSale, **fields: Any) -> PointOfSale:
    for name, value in fields.items():
        setattr(pos, name, value)
    with _unique_pos_code(pos.code):
        pos.save()
    return pos


@transaction.atomic
def pos_delete(*, pos: PointOfSale) -> None:
    """A point of sale with orders stays (409): orders keep where they were placed."""
    try:
        with transaction.atomic():
            pos.delete()
    except ProtectedError:
        raise Conflict(
            "This point of sale has orders; it cannot be deleted.", code="pos_has_orders"
        ) from None
