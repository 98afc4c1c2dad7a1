"""Counting big lists without counting a million rows: the whole table's total is the
count maintained with the rows (crm_project.models.RowCount); anything narrower is
counted up to COUNT_CAP ("more than 10,000" past it). Used by the back office's tables
and the admin's changelists."""

import json
from dataclasses import dataclass
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from crm_project.admin import is_platform
from crm_project.api.pagination import row_count

# Matches are counted exactly up to this many; past it a page says "more than".
COUNT_CAP = 10_000


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
    unfiltered) reads the count maintained with the rows; anything else is counted up
    to COUNT_CAP, where counting stops."""
    if counter is not None:
        return Total(row_count(counter), exact=True)
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    return Total(counted, exact=True) if counted <= COUNT_CAP else Total(COUNT_CAP, exact=False)


class CountedPaginator(Paginator):
    """The admin's pages without a COUNT(*) of a million rows on every list: the
    unfiltered list reads the count maintained with the rows (`counter`), a filtered
    one is counted up to COUNT_CAP and estimated by PostgreSQL past it (the admin needs
    a number for its page links)."""

    counter: str | None = None

    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet[Any], self.object_list)
        total = count_matches(queryset, counter=self.counter)
        return total.value if total.exact else max(planner_estimate(queryset), total.value)


# The changelist's own parameters: with only these, a list is the whole table.
CHANGELIST_PARAMETERS = frozenset({"p", "o", "e", "_changelist_filters", "_to_field", "_popup"})


def counted_paginator(request: HttpRequest, counter: str) -> type[Paginator]:
    """The paginator of a changelist over a table counted as `counter`."""
    filtering = {key for key, value in request.GET.items() if value} - CHANGELIST_PARAMETERS
    whole_table = not filtering and not is_platform(request)
    return type("Paginator", (CountedPaginator,), {"counter": counter if whole_table else None})
