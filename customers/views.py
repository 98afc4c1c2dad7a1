"""The back office's client pages: the client table (the home page) and a customer's
detail page. They read through customers.selectors and customers.filters, the same
queries the API runs.

The table pages by keyset (crm_project.keyset: "Next" / "Previous" from the last row's
sort key and id), so a page costs the same on page 1 and a million rows deep, and it
never counts a million rows (crm_project.counting: the whole table's total is the count
maintained with the rows, a search's matches are counted up to 10,000)."""

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from accounts.models import Role
from crm_project.admin import role_allows
from crm_project.api.pagination import row_count
from crm_project.counting import Total, count_matches
from crm_project.keyset import Column, KeysetTable, Ordering, Position, SortKey, keyset_page
from crm_project.views import account_role_required, page_links, query_string
from customers import selectors, services, timeline
from customers.filters import CustomerFilter
from customers.models import CUSTOMER_COUNTER, Customer, CustomerStatus, Lifecycle
from loyalty import selectors as loyalty_selectors

PAGE_SIZE = 50
TIMELINE_LIMIT = 30
LOYALTY_LEDGER_LIMIT = 20


# --- Sorting -------------------------------------------------------------------------


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
CLIENT_TABLE = KeysetTable(model=Customer, columns=COLUMNS, default_ordering="-created_at")


# --- Pages -------------------------------------------------------------------------------


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
    ordering = CLIENT_TABLE.ordering(request.GET.get("ordering"))
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
            (name, value, query_string(params, **{name: None}))
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
        **page_links(params, page),
        "import_url": _import_url(),
        "reset_url": query_string(QueryDict(), ordering=ordering.param),
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
            column = CLIENT_TABLE.column(key)
            assert column is not None
            current = ordering.column is column
            descending = not ordering.descending if current else column.descending_first
            links.append(
                {
                    "column": column,
                    "url": query_string(params, ordering=f"-{key}" if descending else key),
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
        "loyalty": _loyalty(account, customer),
    }
    return render(request, "customers/detail.html", context)


def _loyalty(account: Any, customer: Customer) -> dict[str, Any]:
    """The customer's loyalty block: their standing (points: their cards' balances
    summed; the level their lifetime earned points reach), their cards and their
    newest ledger rows, through loyalty.selectors."""
    cards = loyalty_selectors.card_list(account).filter(customer_id=customer.pk)
    rows = loyalty_selectors.customer_transactions(account, customer.pk, LOYALTY_LEDGER_LIMIT)
    return {
        "standing": loyalty_selectors.customer_standing(account, customer.pk),
        "cards": list(cards.order_by("issued_at", "id")),
        "ledger": rows,
        "ledger_limit": LOYALTY_LEDGER_LIMIT,
    }


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
