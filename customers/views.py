"""The back office's client pages: the client table (the home page) and a customer's
detail page. They read through customers.selectors and customers.filters, the same
queries the API runs.

The table pages by keyset ("Next" / "Previous" from the last row's sort key and id), so
a page costs the same on page 1 and a million rows deep, and it never counts a million
rows: up to COUNT_CAP matches are counted exactly; beyond that the total of the whole
table is the planner's estimate and says so ("about 1,000,000"), and a search says
"more than 10,000"."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import OrderBy, RawSQL
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from accounts.models import Role
from crm_project.views import account_role_required
from customers import selectors, timeline
from customers.filters import CustomerFilter
from customers.models import Customer, CustomerStatus

PAGE_SIZE = 50
# Matches are counted exactly up to this many; past it the page says "more than".
COUNT_CAP = 10_000
TIMELINE_LIMIT = 50


# --- Sorting and keyset pagination -----------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A sortable column: `?ordering=<key>` or `?ordering=-<key>`."""

    key: str
    label: str
    fields: tuple[str, ...]  # the sort key; the id always follows, so it is unique
    descending_first: bool = False  # numbers and dates sort largest first on a click
    numeric: bool = False
    nullable: bool = False  # missing values sort last in both directions (as the API)


COLUMNS = (
    Column("name", "Name", ("last_name", "first_name")),
    Column("email", "Email", ("email",)),
    Column("phone", "Phone", ("phone",)),
    Column("city", "City", ("city",)),
    Column(
        "lifetime_spend", "Lifetime spend", ("lifetime_spend",), descending_first=True, numeric=True
    ),
    Column("total_orders", "Orders", ("total_orders",), descending_first=True, numeric=True),
    Column(
        "last_order_date", "Last order", ("last_order_date",), descending_first=True, nullable=True
    ),
    Column("created_at", "Created", ("created_at",), descending_first=True),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
DEFAULT_ORDERING = "-created_at"


@dataclass(frozen=True)
class Ordering:
    column: Column
    descending: bool

    @classmethod
    def parse(cls, raw: str | None) -> "Ordering":
        raw = (raw or "").strip() or DEFAULT_ORDERING
        column = COLUMNS_BY_KEY.get(raw.lstrip("-"))
        if column is None:
            return cls.parse(DEFAULT_ORDERING)
        return cls(column, raw.startswith("-"))

    @property
    def param(self) -> str:
        return f"-{self.column.key}" if self.descending else self.column.key

    def segments(self) -> tuple[bool, ...]:
        """The runs the order walks through: rows with the key, then (for a nullable
        key) rows without it, by id. `True` means "the rows without"."""
        return (False, True) if self.column.nullable else (False,)

    def keys(self, missing: bool) -> tuple[str, ...]:
        return ("id",) if missing else (*self.column.fields, "id")


@dataclass(frozen=True)
class Position:
    """Where a page starts or ends: the segment, and the row's sort key and id."""

    missing: bool
    values: tuple[Any, ...]

    def encode(self) -> str:
        payload = json.dumps([self.missing, [_json_value(v) for v in self.values]])
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, ordering: Ordering) -> "Position | None":
        """None for anything that is not a position of this ordering (a stale or edited
        link): the page then starts from the top."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            missing, values = json.loads(raw)
            if not isinstance(missing, bool) or (missing and not ordering.column.nullable):
                return None
            keys = ordering.keys(missing)
            if not isinstance(values, list) or len(values) != len(keys):
                return None
            parsed = []
            for name, value in zip(keys, values, strict=True):
                field = Customer._meta.get_field(name)
                python = field.to_python(value)
                if python is None:
                    return None
                parsed.append(python)
        except (binascii.Error, ValueError, TypeError, ValidationError):
            return None
        return cls(missing, tuple(parsed))

    @classmethod
    def of(cls, row: Customer, ordering: Ordering) -> "Position":
        missing = ordering.column.nullable and getattr(row, ordering.column.fields[0]) is None
        return cls(missing, tuple(getattr(row, name) for name in ordering.keys(missing)))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | str):
        return value
    return str(value)  # UUID


def _after(keys: Sequence[str], values: Sequence[Any], descending: bool) -> RawSQL:
    """`(k1, ..., id) > (v1, ..., id)` (`<` when descending): one row comparison that
    PostgreSQL turns into an index range on a (account, k1, ..., id) index."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    columns = ", ".join(f"{table}.{connection.ops.quote_name(key)}" for key in keys)
    placeholders = ", ".join(["%s"] * len(values))
    operator = "<" if descending else ">"
    # Column names come from the model, values are parameters.
    return RawSQL(  # noqa: S611
        f"({columns}) {operator} ({placeholders})", list(values), output_field=BooleanField()
    )


def _segment(
    queryset: QuerySet[Customer],
    ordering: Ordering,
    missing: bool,
    descending: bool,
    start: Position | None,
) -> QuerySet[Customer]:
    keys = ordering.keys(missing)
    if ordering.column.nullable:
        queryset = queryset.filter(**{f"{ordering.column.fields[0]}__isnull": missing})
    if start is not None and start.missing == missing:
        queryset = queryset.filter(_after(keys, start.values, descending))
    terms: list[OrderBy] = [F(key).desc() if descending else F(key).asc() for key in keys]
    return queryset.order_by(*terms)


@dataclass
class Page:
    rows: list[Customer]
    next: Position | None
    previous: Position | None


def keyset_page(
    queryset: QuerySet[Customer],
    ordering: Ordering,
    *,
    after: Position | None = None,
    before: Position | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """The `size` rows that follow `after` (or precede `before`, or the first ones),
    with the positions of the next and previous pages (None at either end)."""
    backwards = before is not None and after is None
    start = before if backwards else after
    descending = ordering.descending != backwards
    # Rows with the key come first, then (nullable keys) those without; walking
    # backwards visits the segments in reverse.
    walk = ordering.segments()[::-1] if backwards else ordering.segments()
    rows: list[Customer] = []
    started = start is None
    for missing in walk:
        if not started:
            if missing != start.missing:  # type: ignore[union-attr]
                continue
            started = True
        wanted = size + 1 - len(rows)
        rows.extend(_segment(queryset, ordering, missing, descending, start)[:wanted])
        if len(rows) > size:
            break
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        if not more:  # back at the top: the first page, full
            return keyset_page(queryset, ordering, size=size)
        rows.reverse()
        previous = Position.of(rows[0], ordering) if more and rows else None
        following = Position.of(rows[-1], ordering) if rows else None
    else:
        following = Position.of(rows[-1], ordering) if more and rows else None
        previous = Position.of(rows[0], ordering) if start is not None and rows else None
    return Page(rows=rows, next=following, previous=previous)


# --- Counting without counting a million rows ------------------------------------------


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.value:,}"


def _planner_estimate(queryset: QuerySet[Customer]) -> int:
    """The rows PostgreSQL expects the query to return (from its statistics; no rows
    are read)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def count_matches(queryset: QuerySet[Customer], *, filtered: bool) -> Total:
    """Exact up to COUNT_CAP (counting stops there); past it, the whole table's size
    is the planner's estimate, and a search's is "more than COUNT_CAP"."""
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    if counted <= COUNT_CAP:
        return Total(counted, exact=True)
    if filtered:
        return Total(COUNT_CAP, exact=False)
    return Total(max(_planner_estimate(queryset), COUNT_CAP + 1), exact=False)


# --- Pages -------------------------------------------------------------------------------


class ClientTableFilter(CustomerFilter):
    """CustomerFilter reads the account from the API's `request.access`; pages have it
    on `request.account` (the middleware)."""

    def _account(self) -> Any:
        return getattr(self.request, "account", None)


def _query(params: QueryDict, **changes: str | None) -> str:
    query = params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    """The home page: the account's client table. A superuser working across accounts
    gets the platform overview instead (there is no table of every account's clients)."""
    if getattr(request, "account", None) is None and request.user.is_superuser:
        return render(request, "home.html")
    return _client_table(request)


# Query parameters the table's own controls set; any other is a filter of
# CustomerFilter (`?tag=vip`, `?city=Lyon`, ...) shown as a removable chip.
OWN_PARAMETERS = frozenset({"q", "status", "ordering", "after", "before"})


@account_role_required(Role.READ_ONLY)
def _client_table(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    filterset = ClientTableFilter(
        request.GET, queryset=selectors.customer_list(account), request=request
    )
    ordering = Ordering.parse(request.GET.get("ordering"))
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else selectors.customer_list(account).none()
    filtered = valid and any(
        value not in (None, "", []) for value in filterset.form.cleaned_data.values()
    )
    after = Position.decode(request.GET.get("after", ""), ordering)
    before = None if after else Position.decode(request.GET.get("before", ""), ordering)
    page = keyset_page(queryset, ordering, after=after, before=before)
    total = count_matches(queryset, filtered=filtered) if valid else Total(0, exact=True)
    _attach_lifecycles(account, page.rows)

    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    context = {
        "q": request.GET.get("q", ""),
        "status": request.GET.get("status", ""),
        "status_choices": CustomerStatus.choices,
        "filtered": filtered,
        "filter_errors": [
            (filterset.form.fields[name].label or name, errors)
            for name, errors in filterset.errors.items()
        ],
        "chips": [
            (name, value, _query(params, **{name: None}))
            for name, value in params.items()
            if name not in OWN_PARAMETERS and name in filterset.filters and value
        ],
        "kept_filters": [
            (name, value)
            for name, values in params.lists()
            if name not in OWN_PARAMETERS
            for value in values
        ],
        "customers": page.rows,
        "show_lifecycle": any(row.lifecycle for row in page.rows),
        "columns": _columns(params, ordering),
        "ordering": ordering,
        "total": total,
        "first_url": _query(params) if page.previous else None,
        "next_url": _query(params, after=page.next.encode()) if page.next else None,
        "previous_url": _query(params, before=page.previous.encode()) if page.previous else None,
        "import_url": _import_url(),
        "reset_url": _query(QueryDict(), ordering=ordering.param),
    }
    return render(request, "customers/list.html", context)


def _columns(params: QueryDict, ordering: Ordering) -> list[dict[str, Any]]:
    """Each column's header link: a click sorts by it (numbers and dates largest
    first), a second click reverses. Filters stay; the page starts over."""
    columns = []
    for column in COLUMNS:
        current = ordering.column is column
        descending = not ordering.descending if current else column.descending_first
        sort = "descending" if ordering.descending else "ascending"
        columns.append(
            {
                "column": column,
                "url": _query(params, ordering=f"-{column.key}" if descending else column.key),
                "sorted": sort if current else None,
            }
        )
    return columns


# The lifecycle needs RFM quintiles over the whole account (one query over every
# customer and their orders: ~30 ms for 2,000 customers, seconds for a million), so
# the table shows it only for accounts up to this size; the detail page always does.
LIFECYCLE_TABLE_MAX = 5_000
LIFECYCLE_LABELS = {
    "new": "New",
    "active": "Active",
    "at_risk": "At risk",
    "churned": "Churned",
    "vip": "VIP",
}


def _attach_lifecycles(account: Any, rows: list[Customer]) -> None:
    """Set `row.lifecycle` (a bucket, or None when the account is too big to say
    cheaply) on the page's customers."""
    for row in rows:
        row.lifecycle = row.lifecycle_label = None  # type: ignore[attr-defined]
    if not rows:
        return
    if selectors.customer_list(account).order_by()[: LIFECYCLE_TABLE_MAX + 1].count() > (
        LIFECYCLE_TABLE_MAX
    ):
        return
    lifecycles = customer_lifecycles(account, [row.pk for row in rows])
    for row in rows:
        row.lifecycle = lifecycles.get(row.pk)  # type: ignore[attr-defined]
        row.lifecycle_label = LIFECYCLE_LABELS.get(row.lifecycle)  # type: ignore[attr-defined]


def customer_lifecycles(account: Any, customer_ids: list[Any]) -> dict[Any, str]:
    """The lifecycle bucket of these customers, by the health query's own rules.
    TODO(customers.selectors): belongs next to customer_health, whose SQL it reuses."""
    sql = (
        selectors._HEALTH_SQL  # noqa: S608  (table names from the models)
        + "SELECT id, lifecycle FROM classified WHERE id = ANY(%(ids)s::uuid[])"
    ).format(**selectors._tables())
    params = {
        **selectors._health_params(account, None),
        "ids": [str(pk) for pk in customer_ids],
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _import_url() -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("imports:upload")
    except NoReverseMatch:  # the imports app lands it at this path
        return "/import/"


@account_role_required(Role.READ_ONLY)
def customer_detail(request: HttpRequest, ref: str) -> HttpResponse:
    """One customer, by UUID or per-account number; another account's is a 404."""
    account = request.account  # type: ignore[attr-defined]
    customer = selectors.customer_by_ref(account, ref)
    if customer is None:
        raise Http404("No such customer.")
    health = selectors.customer_health(account, customer)
    context = {
        "customer": customer,
        "health": health,
        "lifecycle_label": LIFECYCLE_LABELS.get(health.lifecycle, health.lifecycle),
        "timeline": timeline.customer_timeline(account, customer, limit=TIMELINE_LIMIT),
        "timeline_limit": TIMELINE_LIMIT,
        "metadata": _metadata_rows(customer.metadata),
        "can_edit": role_allows_edit(request),
    }
    return render(request, "customers/detail.html", context)


def role_allows_edit(request: HttpRequest) -> bool:
    from crm_project.admin import role_allows

    return request.user.is_staff and role_allows(request, Role.MEMBER)


def _metadata_rows(metadata: Any) -> list[tuple[str, str]]:
    """Custom fields as (key, text): scalars as they are, objects and lists as JSON."""
    if not isinstance(metadata, dict):
        return []
    rows = []
    for key, value in metadata.items():
        if isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False)
        elif value is None:
            text = "—"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = str(value)
        rows.append((str(key), text))
    return rows
