"""Query-parameter filters and ordering of segments and of a segment's customers,
including Open Loyalty's `sort` and `direction` (seed 003)."""

import contextlib
from typing import Any

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from crm_project.api import filters as api_filters
from crm_project.api.parsers import snake_case
from crm_project.phones import InvalidPhone, account_region, normalize_phone, phone_digits
from customers.models import Customer
from segments.models import Segment

DIRECTIONS = {"asc": "", "desc": "-"}


class SegmentFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", label="Name contains (case-insensitive)")
    active = api_filters.BooleanFilter()

    class Meta:
        model = Segment
        fields: list[str] = []


class SegmentCustomerFilter(filters.FilterSet):
    """Seed 003's filters of a segment's customers: case-insensitive substrings of the
    names and the email, the phone by its digits; `firstName` and `lastName` too."""

    first_name = filters.CharFilter(lookup_expr="icontains", label="First name contains")
    last_name = filters.CharFilter(lookup_expr="icontains", label="Last name contains")
    email = filters.CharFilter(lookup_expr="icontains", label="Email contains")
    phone = filters.CharFilter(method="filter_phone", label="Phone contains these digits")

    # Seed 003's parameter names, read as the snake_case ones when those are absent.
    ALIASES = {"firstName": "first_name", "lastName": "last_name"}

    class Meta:
        model = Customer
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and any(alias in data for alias in self.ALIASES):
            data = data.copy()
            for alias, name in self.ALIASES.items():
                if alias in data and name not in data:
                    data[name] = data[alias]
        super().__init__(data, *args, **kwargs)

    def filter_phone(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet:
        digits = phone_digits(value)
        if not digits:
            return queryset
        # Stored phones are E.164 (`+` and digits): the digits are a substring. A
        # national form (`06 12 ...`) is found by its E.164 form too.
        condition = Q(phone__contains=digits)
        access = getattr(self.request, "access", None)
        region = account_region(getattr(access, "account", None))
        with contextlib.suppress(InvalidPhone):
            condition |= Q(phone=normalize_phone(value, region))
        return queryset.filter(condition)


class SortDirectionOrdering(OrderingFilter):
    """`?ordering=field,-other` as everywhere, or seed 003's `?sort=field&direction=
    ASC|DESC` (`sort` may be camelCase). A view may name `ordering_aliases` (one public
    name for several columns); every ordering ends with the id, so pages never
    overlap."""

    sort_param = "sort"
    direction_param = "direction"

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        direction = self._direction(request)  # refused even without `sort`
        if request.query_params.get(self.ordering_param):
            ordering = super().get_ordering(request, queryset, view)
        elif request.query_params.get(self.sort_param):
            ordering = self._sort_direction(request, queryset, view, direction)
        else:
            ordering = self.get_default_ordering(view)
        return self._expand(list(ordering or []), view)

    def _direction(self, request: Any) -> str:
        direction = request.query_params.get(self.direction_param, "").strip().lower() or "asc"
        if direction not in DIRECTIONS:
            raise ValidationError(
                {self.direction_param: ["Expected ASC or DESC."]}, code="invalid_choice"
            )
        return direction

    def _sort_direction(self, request: Any, queryset: Any, view: Any, direction: str) -> list[str]:
        sort = snake_case(request.query_params[self.sort_param].strip())
        valid = {
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        }
        if sort not in valid:
            raise ValidationError(
                {self.sort_param: [f"Sort by one of: {', '.join(sorted(valid))}."]},
                code="invalid_choice",
            )
        return [DIRECTIONS[direction] + sort]

    def _expand(self, ordering: list[str], view: Any) -> list[str]:
        aliases = getattr(view, "ordering_aliases", {})
        expanded: list[str] = []
        for term in ordering:
            sign, name = ("-", term[1:]) if term.startswith("-") else ("", term)
            expanded.extend(sign + column for column in aliases.get(name, (name,)))
        if not any(term.lstrip("-") in ("id", "pk") for term in expanded):
            expanded.append("id")
        return expanded

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        fields = ", ".join(name for name in getattr(view, "ordering_fields", []))
        return [
            *parameters,
            {
                "name": self.sort_param,
                "required": False,
                "in": "query",
                "description": f"Seed 003's sort column (snake_case or camelCase): {fields}.",
                "schema": {"type": "string"},
            },
            {
                "name": self.direction_param,
                "required": False,
                "in": "query",
                "description": "With `sort`: ASC (default) or DESC, in any case.",
                "schema": {"type": "string", "pattern": "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$"},
            },
        ]
