"""The back office's client pages: the client table (the home page) and a customer's
detail page. They read through customers.selectors and customers.filters, the same
queries the API runs.

The table pages by keyset ("Next" / "Previous" from the last row's sort key and id), so
a page costs the same on page 1 and a million rows deep, and it never counts a million
rows: the whole table's total is the count maintained with the rows (RowCount), and a
search's matches are counted up to COUNT_CAP ("more than 10,000" past it)."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Expression, F, Field, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from accounts.models import Role
from crm_project.admin import role_allows
from crm_project.api.pagination import row_count
from crm_project.views import account_role_required
from customers import selectors, services, timeline
from customers.filters import CustomerFilter
from customers.models import CUSTOMER_COUNTER, Customer, CustomerStatus, Lifecycle

PAGE_SIZE = 50
# Matches are counted exactly up to this many; past it the page says "more than".
COUNT_CAP = 10_000
TIMELINE_LIMIT = 30


# --- Sorting and keyset pagination -----------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One term of a sort: a model field, compared as stored or lowercased."""

    field: str
    lower: bool = False  # lower(email): the expression of the (account, lower(email)) index

    @property
    def alias(self) -> str:
        return f"{self.field}_lower" if self.lower else self.field

    def expression(self) -> F | Lower:
        return Lower(self.field) if self.lower else F(self.field)


ID = SortKey("id")


@dataclass(frozen=True)
class Column:
    """A sortable column: `?ordering=<key>` or `?ordering=-<key>`. Rows matching
    `missing` (no value) come last in both directions, by id, as the API sorts them."""

    key: str
    label: str
    keys: tuple[SortKey, ...]  # then the id, so that the order is total
    descending_first: bool = False  # numbers and dates sort largest first on a click
    numeric: bool = False
    missing: Q | None = None

    def is_missing(self, row: Customer) -> bool:
        return self.missing is not None and getattr(row, self.keys[0].field) in (None, "")


COLUMNS = (
    Column("name", "Name", (SortKey("last_name"), SortKey("first_name"))),
    # Case-insensitively, by the unique lower(email) index; customers without an email
    # come last.
    Column("email", "Email", (SortKey("email", lower=True),), missing=Q(email="")),
    Column("phone", "Phone", (SortKey("phone"),)),
    Column("city", "City", (SortKey("city"),)),
    Column(
        "lifetime_spend",
        "Lifetime spend",
        (SortKey("lifetime_spend"),),
        descending_first=True,
        numeric=True,
    ),
    Column(
        "total_orders", "Orders", (SortKey("total_orders"),), descending_first=True, numeric=True
    ),
    Column(
        "last_order_date",
        "Last order",
        (SortKey("last_order_date"),),
        descending_first=True,
        missing=Q(last_order_date__isnull=True),
    ),
    Column("created_at", "Created", (SortKey("created_at"),), descending_first=True),
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
        """The runs the order walks through: rows with a value, then (for a column
        with `missing`) rows without one, by id. `True` is the run without."""
        return (False, True) if self.column.missing is not None else (False,)

    def keys(self, missing: bool) -> tuple[SortKey, ...]:
        return (ID,) if missing else (*self.column.keys, ID)


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
            if not isinstance(missing, bool) or missing not in ordering.segments():
                return None
            keys = ordering.keys(missing)
            if not isinstance(values, list) or len(values) != len(keys):
                return None
            parsed = []
            for key, value in zip(keys, values, strict=True):
                field = cast(Field, Customer._meta.get_field(key.field))
                python = field.to_python(value)
                if python is None:
                    return None
                parsed.append(python)
        except (binascii.Error, ValueError, TypeError, ValidationError):
            return None
        return cls(missing, tuple(parsed))

    @classmethod
    def of(cls, row: Customer, ordering: Ordering) -> "Position":
        missing = ordering.column.is_missing(row)
        return cls(missing, tuple(getattr(row, key.alias) for key in ordering.keys(missing)))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | str):
        return value
    return str(value)  # UUID


class RowComparison(Expression):
    """`(k1, ..., kn) > (v1, ..., vn)` (`<` when descending): one row comparison, which
    PostgreSQL turns into a range of an index on (account, k1, ..., kn), so a page a
    million rows deep costs what the first one does."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, keys: Sequence[Any], values: Sequence[Any], *, descending: bool):
        super().__init__()
        self.keys = list(keys)
        self.values = [Value(value) for value in values]
        self.descending = descending

    def get_source_expressions(self) -> list[Any]:
        return [*self.keys, *self.values]

    def set_source_expressions(self, expressions: Sequence[Any]) -> None:
        count = len(self.keys)
        self.keys, self.values = list(expressions[:count]), list(expressions[count:])

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sides: list[str] = []
        params: list[Any] = []
        for side in (self.keys, self.values):
            compiled = [compiler.compile(expression) for expression in side]
            sides.append(", ".join(sql for sql, _params in compiled))
            params.extend(param for _sql, side_params in compiled for param in side_params)
        operator = "<" if self.descending else ">"
        return f"({sides[0]}) {operator} ({sides[1]})", tuple(params)


def _segment(
    queryset: QuerySet[Customer],
    ordering: Ordering,
    missing: bool,
    descending: bool,
    start: Position | None,
) -> QuerySet[Customer]:
    keys = ordering.keys(missing)
    column = ordering.column
    if column.missing is not None:
        queryset = queryset.filter(column.missing if missing else ~column.missing)
    queryset = queryset.annotate(**{key.alias: key.expression() for key in keys if key.lower})
    if start is not None and start.missing == missing:
        expressions = [F(key.alias) for key in keys]
        queryset = queryset.filter(RowComparison(expressions, start.values, descending=descending))
    terms = [F(key.alias).desc() if descending else F(key.alias).asc() for key in keys]
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
    size: int,
) -> Page:
    """The `size` rows that follow `after` (or precede `before`, or the first ones),
    with the positions of the next and previous pages (None at either end)."""
    backwards = before is not None and after is None
    start = before if backwards else after
    descending = ordering.descending != backwards
    # Rows with a value come first, then those without; walking backwards visits the
    # segments in reverse.
    walk = ordering.segments()[::-1] if backwards else ordering.segments()
    if start is not None:
        walk = walk[walk.index(start.missing) :]
    rows: list[Customer] = []
    for missing in walk:
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
        previous = Position.of(rows[0], ordering) if rows else None
        following = Position.of(rows[-1], ordering) if rows else None
    else:
        following = Position.of(rows[-1], ordering) if more and rows else None
        previous = Position.of(rows[0], ordering) if start is not None and rows else None
    return Page(rows=rows, next=following, previous=previous)


# --- Counting without counting a million rows ------------------------------------------


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool  # False: "more than `value`"

    def __str__(self) -> str:
        return f"{self.value:,}"


def planner_estimate(queryset: QuerySet[Any]) -> int:
    """The rows PostgreSQL expects the query to return (from its statistics; no rows
    are read)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def count_matches(queryset: QuerySet[Any], *, counter: str | None = None) -> Total:
    """How many rows `queryset` has. The whole table (`counter` given: the queryset is
    unfiltered) reads the count maintained with the rows (crm_project.models.RowCount);
    anything else is counted up to COUNT_CAP, where counting stops."""
    if counter is not None:
        return Total(row_count(counter), exact=True)
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    return Total(counted, exact=True) if counted <= COUNT_CAP else Total(COUNT_CAP, exact=False)


# --- Pages -------------------------------------------------------------------------------


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
    filterset = CustomerFilter(
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
    page = keyset_page(queryset, ordering, after=after, before=before, size=PAGE_SIZE)
    total = (
        count_matches(queryset, counter=None if filtered else CUSTOMER_COUNTER)
        if valid
        else Total(0, exact=True)
    )
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
            if name not in OWN_PARAMETERS and name in filterset.filters
            for value in values
        ],
        "customers": page.rows,
        "show_lifecycle": any(getattr(row, "lifecycle", None) for row in page.rows),
        "headers": _headers(params, ordering),
        "ordering": ordering,
        "total": total,
        "first_url": _query(params) if page.previous else None,
        "next_url": _query(params, after=page.next.encode()) if page.next else None,
        "previous_url": _query(params, before=page.previous.encode()) if page.previous else None,
        "import_url": _import_url(),
        "reset_url": _query(QueryDict(), ordering=ordering.param),
    }
    return render(request, "customers/list.html", context)


# The table's header cells: the client cell shows the name with the email beneath it,
# and sorts by either.
HEADERS = (
    ("name", "email"),
    ("phone",),
    ("city",),
    ("lifetime_spend",),
    ("total_orders",),
    ("last_order_date",),
    ("created_at",),
)


def _headers(params: QueryDict, ordering: Ordering) -> list[dict[str, Any]]:
    """Each header cell with its sort links: a click sorts by the column (numbers and
    dates largest first), a second click reverses. Filters stay; the page starts over."""
    direction = "descending" if ordering.descending else "ascending"
    cells = []
    for keys in HEADERS:
        links: list[dict[str, Any]] = []
        for key in keys:
            column = COLUMNS_BY_KEY[key]
            current = ordering.column is column
            descending = not ordering.descending if current else column.descending_first
            links.append(
                {
                    "column": column,
                    "url": _query(params, ordering=f"-{key}" if descending else key),
                    "sorted": direction if current else None,
                }
            )
        cells.append(
            {
                "links": links,
                "numeric": links[0]["column"].numeric,
                "sorted": next((link["sorted"] for link in links if link["sorted"]), None),
            }
        )
    return cells


# The lifecycle reads the account's quintile thresholds (customers.models.
# HealthThresholds). Computing them ranks every customer with orders (~30 ms for 2,000
# customers, seconds for a million): the table computes missing ones only for accounts
# up to this size, and bigger ones show the lifecycle once beat has computed them.
LIFECYCLE_TABLE_MAX = 5_000
LIFECYCLE_LABELS = dict(Lifecycle.choices)


def _table_thresholds(account: Any) -> selectors.Thresholds | None:
    if row_count(CUSTOMER_COUNTER) <= LIFECYCLE_TABLE_MAX:
        return services.health_thresholds_current(account=account)
    stored = selectors.health_thresholds_stored(account)
    return selectors.Thresholds.of(stored) if stored is not None else None


def _attach_lifecycles(account: Any, rows: list[Customer]) -> None:
    """Set `row.lifecycle` (a bucket, or None when the account is too big to say
    cheaply) on the page's customers."""
    for row in rows:
        row.lifecycle = row.lifecycle_label = None  # type: ignore[attr-defined]
    thresholds = _table_thresholds(account) if rows else None
    if thresholds is None:
        return
    lifecycles = selectors.customer_lifecycles(
        account, [row.pk for row in rows], thresholds=thresholds
    )
    for row in rows:
        row.lifecycle = lifecycles.get(row.pk)  # type: ignore[attr-defined]
        row.lifecycle_label = LIFECYCLE_LABELS.get(row.lifecycle)  # type: ignore[attr-defined]


def _import_url() -> str:
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
    thresholds = services.health_thresholds_current(account=account)
    health = selectors.customer_health(account, customer, thresholds=thresholds)
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
    """Whether the "Edit in admin" link leads anywhere for this user."""
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
