"""The back office's loyalty page (`/loyalty/`): the account's cards (searched by number,
newest issued first, keyset pages of 50), the newest rows of the points ledger and the
program's levels. Read-only: cards are issued and points move through the API and
loyalty.services.

Reads go through loyalty.selectors (the API's own querysets, scoped to the account)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Role
from crm_project.keyset import Column, KeysetTable, Position, SortKey, keyset_page
from crm_project.views import account_role_required, page_links
from loyalty import selectors
from loyalty.models import LoyaltyCard

PAGE_SIZE = 50
LEDGER_LIMIT = 50
# A card number is at most 50 characters (LoyaltyCard.number).
SEARCH_MAX = 50

CARD_TABLE = KeysetTable(
    model=LoyaltyCard,
    columns=(Column("issued_at", "Issued", (SortKey("issued_at"),), descending_first=True),),
    default_ordering="-issued_at",
)


@account_role_required(Role.READ_ONLY)
def loyalty_overview(request: HttpRequest) -> HttpResponse:
    """Cards (`?q=` keeps those whose number starts with it, the exact number
    included), the newest ledger rows and the levels, of the signed-in account only."""
    account = request.account  # type: ignore[attr-defined]
    q = request.GET.get("q", "").strip()[:SEARCH_MAX]
    cards = selectors.card_list(account).select_related("customer")
    if q:
        cards = cards.filter(number__startswith=q)
    ordering = CARD_TABLE.ordering(None)
    after = Position.decode(request.GET.get("after", ""), ordering)
    before = None if after else Position.decode(request.GET.get("before", ""), ordering)
    page = keyset_page(cards, ordering, after=after, before=before, size=PAGE_SIZE)

    ledger = (
        selectors.transaction_list(account)
        .select_related("customer")
        .order_by("-created_at", "-id")[:LEDGER_LIMIT]
    )
    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    if q:
        params["q"] = q
    else:
        params.pop("q", None)
    context = {
        "q": q,
        "cards": page.rows,
        **page_links(params, page),
        "ledger": list(ledger),
        "ledger_limit": LEDGER_LIMIT,
        "levels": list(selectors.level_list(account)),
        "page_size": PAGE_SIZE,
    }
    return render(request, "loyalty/overview.html", context)
