from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm_project.models import RowCount
from crm_project.tenancy import require_account_id

# Query parameters that do not narrow a list: with only these, its count is the
# table's row count for the account.
NON_FILTERING_PARAMS = frozenset({"page", "page_size", "ordering", "format", "cursor"})


def _invalid(name: str, detail: str) -> ValidationError:
    return ValidationError({name: [ErrorDetail(detail, code="invalid")]})


def query_positive_int(request: Request, name: str, *, cutoff: int | None = None) -> int | None:
    """Query parameter `name` as a positive integer (at most `cutoff`, a larger one read
    as `cutoff`); None when absent or blank, a 400 naming it when not a positive integer
    (DRF would quietly use its default)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return pagination._positive_int(raw, strict=True, cutoff=cutoff)
    except ValueError:
        raise _invalid(name, "Enter a positive integer.") from None


class PageSizeMixin:
    """`?page_size=M` (default 50, at most 500: a larger size is read as 500), also
    under the view's `page_size_aliases`; anything but a positive integer is a 400."""

    page_size = 50
    page_size_query_param = "page_size"
    page_size_aliases: tuple[str, ...] = ()
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        for name in (self.page_size_query_param, *self.page_size_aliases):
            size = query_positive_int(request, name, cutoff=self.max_page_size)
            if size is not None:
                return size
        return self.page_size

    def page_size_parameters(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "required": False,
                "in": "query",
                "description": f"Rows per page: {self.page_size} by default, at most "
                f"{self.max_page_size} (a larger size is read as {self.max_page_size})."
                + (f" Another name of `{self.page_size_query_param}`." if alias else ""),
                "schema": {"type": "integer", "minimum": 1},
            }
            for alias, name in enumerate((self.page_size_query_param, *self.page_size_aliases))
        ]


class PageNumberPagination(PageSizeMixin, pagination.PageNumberPagination):
    """`?page=N&page_size=M` (default 50, at most 500) with an exact `count`. A view
    over a big table names its `row_counter` (crm_project.models.RowCount): an
    unfiltered list then reads the count maintained with the rows instead of counting
    them. A page that is not a positive integer is a 400, one past the end a 404."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return request.query_params[self.page_query_param]
        return query_positive_int(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "The page (from 1); one past the last page is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            *self.page_size_parameters(),
        ]

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        counter = getattr(view, "row_counter", None)
        filtering = {k for k, v in request.query_params.items() if v} - NON_FILTERING_PARAMS
        known = row_count(counter) if counter and not filtering else None
        self.django_paginator_class = lambda *args, **kwargs: _Paginator(
            *args, known_count=known, filtered=bool(filtering), **kwargs
        )
        return super().paginate_queryset(queryset, request, view)


# From this offset on, a page first reads the ids of its rows (an index-only scan of
# the sort order) and then only those rows: OFFSET then skips index entries, not rows.
DEFERRED_JOIN_OFFSET = 500

# See few_matches_first.
FEW_MATCHES = 1000


def few_matches_first(queryset: QuerySet[Any], count: int) -> QuerySet[Any]:
    """A filtered `queryset` of at most FEW_MATCHES rows (`count`, known exactly),
    restricted to the ids of its rows read by the filter's own plan, unordered: its
    sorted page then sorts only those rows. Asked for `ORDER BY ... LIMIT 50` directly,
    PostgreSQL may walk the sort's index hoping to meet the few matches early and read
    most of the table instead (one customer's whole email address as `?q=`: 1.3 s at
    1,000,000 customers, ~20 ms this way). More rows: the queryset as it is."""
    if count > FEW_MATCHES:
        return queryset
    return queryset.filter(pk__in=list(queryset.order_by().values_list("pk", flat=True)))


class _Paginator(Paginator):
    def __init__(
        self, *args: Any, known_count: int | None = None, filtered: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.filtered = filtered
        if known_count is not None:
            self.__dict__["count"] = known_count  # Paginator.count is a cached_property

    def page(self, number: Any) -> Any:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        queryset = self.object_list
        ordered = getattr(queryset, "ordered", False)
        if self.filtered and ordered:
            queryset = few_matches_first(queryset, self.count)
        if bottom < DEFERRED_JOIN_OFFSET or not ordered:
            return self._get_page(queryset[bottom:top], number, self)
        ids = list(queryset.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


def row_count(name: str) -> int:
    """The exact number of the scoped account's rows counted as `name`: its counter,
    written at commit, plus the deltas this transaction has not committed yet
    (crm_project.migration_operations.COUNT_FUNCTION_SQL). One round trip: it is on
    the first page of every big list."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce((SELECT count FROM {RowCount._meta.db_table}
                              WHERE account_id = %(account)s AND name = %(name)s), 0)
                 + coalesce((SELECT sum(delta) FROM crm_project_rowcount_pending
                              WHERE account_id = %(account)s AND name = %(name)s), 0)
            """,  # noqa: S608  (the table name is the model's)
            {"account": require_account_id(), "name": name},
        )
        return int(cursor.fetchone()[0])


def row_counts(names: list[str]) -> dict[str, int]:
    """row_count of each of `names` (a pipeline's columns, CountRowsBy), in one round
    trip; a name never counted is 0."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT n.name,
                   coalesce((SELECT count FROM {RowCount._meta.db_table} c
                              WHERE c.account_id = %(account)s AND c.name = n.name), 0)
                 + coalesce((SELECT sum(delta) FROM crm_project_rowcount_pending p
                              WHERE p.account_id = %(account)s AND p.name = n.name), 0)
              FROM unnest(%(names)s::text[]) AS n(name)
            """,  # noqa: S608  (the table name is the model's)
            {"account": require_account_id(), "names": names},
        )
        return {name: int(count) for name, count in cursor.fetchall()}


class CursorPagination(PageSizeMixin, pagination.CursorPagination):
    """Keyset pagination for big collections: constant cost per page, no count. It
    walks one fixed, unique order backed by an index: the view's `cursor_ordering`
    (default newest first), whatever `?ordering=` says. A cursor the API did not make
    is a 400 naming `cursor`."""

    ordering = ("-created_at", "-id")
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link of a page."

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "cursor_ordering", self.ordering))

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise _invalid(self.cursor_query_param, self.invalid_cursor_message) from None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            # A decodable cursor whose position is not a value of the ordering's column:
            # the column refuses it before any SQL runs.
            raise _invalid(self.cursor_query_param, self.invalid_cursor_message) from None


class PageOrCursorPagination(PageNumberPagination):
    """`?page=N&page_size=M` with an exact count, or, with `?cursor=` (empty for the
    first page), keyset pagination without a count: constant cost per page however
    deep an integrator walks."""

    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self._cursor: CursorPagination | None = None
        if self.cursor_query_param in request.query_params:
            self._cursor = CursorPagination()
            return self._cursor.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        if self._cursor is not None:
            return self._cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset pagination: empty for the first page, then the "
                "cursor of `next`; the answer has no `count`.",
                "schema": {"type": "string"},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["results"]
        return paginated
